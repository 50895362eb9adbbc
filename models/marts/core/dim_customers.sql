-- Grain: one row per real customer_id. Lines without a customer_id (guest checkouts and
-- stock adjustments) are not a customer and get no row here: no made-up 'unknown' id.

with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

customer_invoices as (

    select
        *,
        -- the customer's country is the one on their most recent invoice
        row_number() over (
            partition by customer_id
            order by invoiced_at desc, invoice_no desc
        ) as recency_rank
    from invoices
    where customer_id is not null

),

customers as (

    select
        customer_id,
        max(case when recency_rank = 1 then country_name end) as country_name,
        min(invoiced_at) as first_invoiced_at,
        max(invoiced_at) as last_invoiced_at,
        count(case when invoice_type = 'sale' then invoice_no end) as orders,
        count(case when invoice_type = 'cancellation' then invoice_no end) as cancellations,
        sum(gross_amount) as lifetime_gross_sales,
        sum(returns_amount) as lifetime_returns,
        sum(net_amount) as lifetime_net_revenue
    from customer_invoices
    group by customer_id

),

final as (

    select
        -- ids
        cast(customer_id as varchar) as customer_id,
        cast(country_name as varchar) as country_name,

        -- numbers
        cast(orders as integer) as orders,
        cast(cancellations as integer) as cancellations,
        cast(lifetime_gross_sales as decimal(18, 3)) as lifetime_gross_sales,
        cast(lifetime_returns as decimal(18, 3)) as lifetime_returns,
        cast(lifetime_net_revenue as decimal(18, 3)) as lifetime_net_revenue,

        -- timestamps
        cast(first_invoiced_at as timestamp) as first_invoiced_at,
        cast(last_invoiced_at as timestamp) as last_invoiced_at

    from customers

)

select * from final
