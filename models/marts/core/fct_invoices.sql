-- Grain: one row per invoice_no. An invoice is a sale, a cancellation (C...) or an
-- adjustment (A...) as a whole, because the type comes from its number.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

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
        sum(line_amount) as net_amount
    from sales_lines
    group by invoice_no

),

final as (

    select
        -- ids
        cast(invoice_no as varchar) as invoice_no,
        cast(customer_id as varchar) as customer_id,
        cast(country_name as varchar) as country_name,
        cast(invoiced_at as date) as invoice_date,

        -- text
        cast(invoice_type as varchar) as invoice_type,

        -- numbers
        cast(line_count as integer) as line_count,
        cast(units as bigint) as units,
        cast(gross_amount as decimal(18, 3)) as gross_amount,
        cast(returns_amount as decimal(18, 3)) as returns_amount,
        cast(adjustments_amount as decimal(18, 3)) as adjustments_amount,
        cast(net_amount as decimal(18, 3)) as net_amount,

        -- booleans
        invoice_type = 'cancellation' as is_cancellation,

        -- timestamps
        cast(invoiced_at as timestamp) as invoiced_at

    from invoices

)

select * from final
