-- Revenue by quarter for a range of invoice dates, with the change on the previous
-- quarter: the ad-hoc query analysts run on Athena. It reads the line facts directly and
-- filters on invoice_date, which on Athena prunes fct_sales_lines' Iceberg month
-- partitions, so only the months asked for are scanned (and billed). Compile it with
--   dbt compile --target athena --select revenue_by_quarter \
--       --vars '{from_date: "2011-01-01", to_date: "2012-01-01"}'
-- and run target/compiled/online_retail/analyses/revenue_by_quarter.sql.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

lines_in_range as (

    select
        dates.quarter_start,
        dates.calendar_year,
        dates.quarter_of_year,
        sales_lines.invoice_no,
        sales_lines.customer_id,
        sales_lines.line_type,
        sales_lines.is_product,
        sales_lines.quantity,
        sales_lines.line_amount
    from sales_lines
    inner join dates
        on sales_lines.invoice_date = dates.date_day
    where
        sales_lines.invoice_date >= cast('{{ var("from_date", "2010-12-01") }}' as date)
        and sales_lines.invoice_date < cast('{{ var("to_date", "2012-01-01") }}' as date)

),

quarters as (

    select
        quarter_start,
        calendar_year,
        quarter_of_year,
        {{ revenue_measures() }}
    from lines_in_range
    group by quarter_start, calendar_year, quarter_of_year

),

final as (

    select
        quarter_start,
        calendar_year,
        quarter_of_year,
        gross_sales,
        returns,
        adjustments,
        net_revenue,
        invoices,
        customers,
        net_revenue - lag(net_revenue) over (
            order by quarter_start
        ) as net_revenue_change
    from quarters

)

select * from final
order by quarter_start
