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

        -- dates and timestamps: ISO 8601 text with an offset in the manifest
        {{ utc_timestamp_from_iso8601('started_at') }} as started_at,
        {{ utc_timestamp_from_iso8601('finished_at') }} as finished_at

    from source

)

select * from final
