with

source as (

    select * from {{ source('online_retail', 'quarantined_lines') }}

),

deduplicated as (

    -- a replayed record can be quarantined again under the same event_id: keep the latest
    select
        *,
        row_number() over (
            partition by event_id
            order by ingested_at desc
        ) as landing_rank
    from source

),

final as (

    select
        -- ids
        event_id,

        -- lineage
        source_file,
        cast(source_line_number as bigint) as source_line_number,

        -- text
        field as failed_field,
        reason as failure_reason,
        raw_record,

        -- dates and timestamps
        ingested_at

    from deduplicated
    where landing_rank = 1

)

select * from final
