with

source as (

    {{ lake_source('online_retail', 'quarantined_lines') }}

),

deduplicated as (

    -- a replayed record can be quarantined again under the same event_id: keep the latest
    {{ latest_landing('source') }}

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

        -- dates and timestamps: explicit, as Spectrum reads it without its zone
        {{ utc_timestamp('ingested_at') }} as ingested_at

    from deduplicated

)

select * from final
