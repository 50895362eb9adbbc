-- fct_invoices and dim_customers carry the same money as the lines they summarise:
-- total net amount per invoice type, and the lifetime net revenue of all customers
-- against the lines that have a customer id.
-- With `test_window_days` set (macros/test_window.sql), only the invoices and customers
-- of the lines landed in the window are reconciled.
{%- set window_start = test_window_start(ref('fct_sales_lines')) %}

with

all_sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

all_invoices as (

    select * from {{ ref('fct_invoices') }}

),

all_customers as (

    select * from {{ ref('dim_customers') }}

),

{% if window_start is none %}
sales_lines as (select * from all_sales_lines),

invoices as (select * from all_invoices),

customers as (select * from all_customers),

customer_sales_lines as (select * from all_sales_lines),
{% else %}
windowed_lines as (

    select
        invoice_no,
        customer_id
    from all_sales_lines
    where ingested_at > {{ window_start }}

),

sales_lines as (

    select * from all_sales_lines
    where invoice_no in (select windowed.invoice_no from windowed_lines as windowed)

),

invoices as (

    select * from all_invoices
    where invoice_no in (select windowed.invoice_no from windowed_lines as windowed)

),

customers as (

    select * from all_customers
    where customer_id in (select windowed.customer_id from windowed_lines as windowed)

),

customer_sales_lines as (

    select * from all_sales_lines
    where customer_id in (select windowed.customer_id from windowed_lines as windowed)

),
{% endif %}

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

    -- 0, not NULL, when no line has a customer (a window may hold none)
    select coalesce(sum(line_amount), 0) as net_amount
    from customer_sales_lines
    where customer_id is not null

),

customer_totals as (

    select coalesce(sum(lifetime_net_revenue), 0) as net_amount
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
