with

source as (

    {{ lake_source('online_retail', 'invoice_lines') }}

),

landed as (

    select * from source

    -- Warehouse targets build this model incrementally: the lines received since the
    -- look-back window before the latest one already here, so a file landed late is
    -- still read (late_arrival_watermark); the upsert on event_id keeps each line once.
    {% if is_incremental() %}
    where ingested_at > {{ late_arrival_watermark(this) }}
    {% endif %}

),

deduplicated as (

    -- The stream path can deliver one record twice (same event_id): keep its latest
    -- landing. Source lines that merely look alike (the data has 5,268 exact copies of
    -- another line) have their own event_id and are all kept.
    {{ latest_landing('landed') }}

),

renamed as (

    select
        -- ids
        event_id,
        trim(invoice_no) as invoice_no,
        trim(stock_code) as stock_code,
        nullif(trim(customer_id), '') as customer_id,

        -- lineage
        source_file,
        cast(source_line_number as bigint) as source_line_number,

        -- text
        nullif(trim(description), '') as description,
        trim(country) as country_name,

        -- numbers
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 3)) as unit_price,

        -- dates and timestamps
        cast(invoiced_at as timestamp) as invoiced_at,
        -- explicit, as Redshift Spectrum reads it without its zone
        {{ utc_timestamp('ingested_at') }} as ingested_at

    from deduplicated

),

computed as (

    select
        *,
        -- exact money: decimal times integer, 3 decimals kept, never a float
        cast(quantity * unit_price as decimal(18, 3)) as line_amount,
        cast(invoiced_at as date) as invoice_date
    from renamed

),

final as (

    select
        -- ids
        event_id,
        invoice_no,
        stock_code,
        customer_id,

        -- lineage
        source_file,
        source_line_number,

        -- text
        description,
        country_name,

        -- numbers
        quantity,
        unit_price,
        line_amount,

        -- dates and timestamps
        invoice_date,
        invoiced_at,
        ingested_at

    from computed

)

select * from final
