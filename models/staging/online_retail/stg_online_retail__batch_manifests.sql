with

source as (

    {{ lake_source('online_retail', 'batch_manifests') }}

),

final as (

    select
        -- ids
        source_file,

        -- text
        encoding as source_encoding,

        -- numbers
        cast(rows_in as bigint) as rows_in,
        cast(rows_landed as bigint) as rows_landed,
        cast(rows_quarantined as bigint) as rows_quarantined,

        -- dates and timestamps
        cast(started_at as timestamp with time zone) as started_at,
        cast(finished_at as timestamp with time zone) as finished_at

    from source

)

select * from final
