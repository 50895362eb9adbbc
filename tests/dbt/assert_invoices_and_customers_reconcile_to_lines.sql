-- fct_invoices and dim_customers carry the same money as the lines they summarise:
-- total net amount per invoice type, and the lifetime net revenue of all customers
-- against the lines that have a customer id.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

lines_by_type as (

    select
        line_type as document_type,
        sum(line_amount) as net_amount
    from sales_lines
    group by line_type

),

invoices_by_type as (

    select
        invoice_type as document_type,
        sum(net_amount) as net_amount
    from invoices
    group by invoice_type

),

type_differences as (

    select
        coalesce(lines_by_type.document_type, invoices_by_type.document_type) as reconciled_item,
        lines_by_type.net_amount as lines_net_amount,
        invoices_by_type.net_amount as summary_net_amount
    from lines_by_type
    full outer join invoices_by_type
        on lines_by_type.document_type = invoices_by_type.document_type

),

customer_lines as (

    select sum(line_amount) as net_amount
    from sales_lines
    where customer_id is not null

),

customer_totals as (

    select sum(lifetime_net_revenue) as net_amount
    from customers

),

customer_difference as (

    select
        'customers' as reconciled_item,
        customer_lines.net_amount as lines_net_amount,
        customer_totals.net_amount as summary_net_amount
    from customer_lines
    cross join customer_totals

),

compared as (

    select * from type_differences
    union all
    select * from customer_difference

)

select *
from compared
where
    lines_net_amount is null
    or summary_net_amount is null
    or abs(lines_net_amount - summary_net_amount) >= 0.001
