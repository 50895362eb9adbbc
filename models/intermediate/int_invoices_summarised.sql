-- One row per invoice_no summarising its lines, built incrementally for fct_invoices: a
-- build recomputes, from all their lines, only the invoices that lines landed since the
-- last build belong to, and upserts them on invoice_no. last_ingested_at (the landing
-- of the invoice's latest line) is how far the model has read the lines.
{{
    config(
        materialized='incremental',
        unique_key='invoice_no',
        on_schema_change='fail',
    )
}}

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

{% if is_incremental() %}
landed_invoices as (  -- noqa: ST03

    -- invoices with lines landed since the last build, late arrivals included
    -- (late_arrival_watermark, fct_sales_lines' rule)
    select distinct sales_lines.invoice_no
    from sales_lines
    where
        sales_lines.ingested_at > {{ late_arrival_watermark(this, 'last_ingested_at') }}

),
{% endif %}

invoices as (

    select
        invoice_no,
        -- every line of an invoice carries the same customer, country and type
        max(customer_id) as customer_id,
        max(country_name) as country_name,
        max(line_type) as invoice_type,
        -- a few invoices span two clock minutes: the invoice is dated by its first line
        min(invoiced_at) as invoiced_at,
        count(*) as line_count,
        sum(case when is_product then quantity else 0 end) as units,
        -- the lines' classified amounts (int_invoice_lines_classified), summed
        sum(gross_sales_amount) as gross_amount,
        sum(returns_amount) as returns_amount,
        sum(adjustments_amount) as adjustments_amount,
        sum(line_amount) as net_amount,
        max(ingested_at) as last_ingested_at
    from sales_lines
    {% if is_incremental() %}
    where invoice_no in (select landed.invoice_no from landed_invoices as landed)
    {% endif %}
    group by invoice_no

)

select * from invoices
