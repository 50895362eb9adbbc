-- Grain: one row per invoice_no. An invoice is a sale, a cancellation (C...) or an
-- adjustment (A...) as a whole, because the type comes from its number.

with

invoices as (

    -- the lines summed per invoice, incrementally (int_invoices_summarised)
    select * from {{ ref('int_invoices_summarised') }}

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
