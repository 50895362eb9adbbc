-- Grain: one row per source line (event_id) of the transformed zone.
-- The one join of the lines to the calendar: each line carries the first day of its
-- week, month, quarter and season from dim_dates, so reports group by those columns and
-- never join lines to dates again.
-- Incremental: a build reads the lines received since the look-back window before the
-- latest one it holds (late_arrival_watermark: a file can land after a build with lines
-- received before it) and upserts them by event_id, so new Parquet files need no full
-- refresh, lines read again change nothing, and a replayed record (same event_id, later
-- landing) replaces its row instead of adding one.
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

dates as (

    select * from {{ ref('dim_dates') }}

),

final as (

    select
        -- ids and keys to the dimensions
        cast(invoice_lines.event_id as varchar) as event_id,
        cast(invoice_lines.invoice_no as varchar) as invoice_no,
        cast(invoice_lines.stock_code as varchar) as stock_code,
        cast(invoice_lines.customer_id as varchar) as customer_id,
        cast(invoice_lines.country_name as varchar) as country_name,
        cast(invoice_lines.invoice_date as date) as invoice_date,

        -- lineage
        cast(invoice_lines.source_file as varchar) as source_file,
        cast(invoice_lines.source_line_number as bigint) as source_line_number,

        -- text
        cast(invoice_lines.description as varchar) as description,
        cast(invoice_lines.line_type as varchar) as line_type,
        cast(invoice_lines.product_category as varchar) as product_category,

        -- numbers: line_amount = gross_sales_amount + returns_amount + adjustments_amount
        cast(invoice_lines.quantity as integer) as quantity,
        cast(invoice_lines.unit_price as decimal(12, 3)) as unit_price,
        cast(invoice_lines.line_amount as decimal(18, 3)) as line_amount,
        cast(invoice_lines.gross_sales_amount as decimal(18, 3)) as gross_sales_amount,
        cast(invoice_lines.returns_amount as decimal(18, 3)) as returns_amount,
        cast(invoice_lines.adjustments_amount as decimal(18, 3)) as adjustments_amount,

        -- booleans
        cast(invoice_lines.is_product as boolean) as is_product,

        -- dates: the calendar periods the line falls in
        cast(dates.week_start as date) as week_start,
        cast(dates.month_start as date) as month_start,
        cast(dates.quarter_start as date) as quarter_start,
        cast(dates.season_start as date) as season_start,

        -- timestamps
        cast(invoice_lines.invoiced_at as timestamp) as invoiced_at,
        invoice_lines.ingested_at

    from invoice_lines
    left join dates
        on invoice_lines.invoice_date = dates.date_day

    {% if is_incremental() %}
    -- lines received since the look-back before the latest one built: late arrivals
    -- (a file landed after the last build with lines received before it) included
    where invoice_lines.ingested_at > {{ late_arrival_watermark(this) }}
    {% endif %}

)

select * from final
