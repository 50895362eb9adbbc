-- Grain: one row per source line (event_id) of the transformed zone.
-- Incremental: a build reads only lines landed since the last one and upserts them by
-- event_id, so new Parquet files need no full refresh and a replayed record (same
-- event_id, later landing) replaces its row instead of adding one.
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        on_schema_change='fail',
    )
}}


with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_classified') }}

),

final as (

    select
        -- ids and keys to the dimensions
        cast(event_id as varchar) as event_id,
        cast(invoice_no as varchar) as invoice_no,
        cast(stock_code as varchar) as stock_code,
        cast(customer_id as varchar) as customer_id,
        cast(country_name as varchar) as country_name,
        cast(invoice_date as date) as invoice_date,

        -- lineage
        cast(source_file as varchar) as source_file,
        cast(source_line_number as bigint) as source_line_number,

        -- text
        cast(description as varchar) as description,
        cast(line_type as varchar) as line_type,
        cast(product_category as varchar) as product_category,

        -- numbers
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 3)) as unit_price,
        cast(line_amount as decimal(18, 3)) as line_amount,

        -- booleans
        cast(is_product as boolean) as is_product,

        -- timestamps
        cast(invoiced_at as timestamp) as invoiced_at,
        ingested_at

    from invoice_lines

    {% if is_incremental() %}
    where
        ingested_at > (
            select max(built.ingested_at) as latest_ingested_at
            from {{ this }} as built
        )
    {% endif %}

)

select * from final
