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

    select *
    from sales_lines
    where
        invoice_date >= cast('{{ var("from_date", "2010-12-01") }}' as date)
        and invoice_date < cast('{{ var("to_date", "2012-01-01") }}' as date)

),

quarters as (

    -- each line carries its quarter's first day (fct_sales_lines.quarter_start)
    select
        quarter_start,
        {{ revenue_measures() }}
    from lines_in_range
    group by quarter_start

),

labelled as (

    select
        quarters.*,
        dates.calendar_year,
        dates.quarter_of_year
    from quarters
    inner join dates
        on quarters.quarter_start = dates.date_day

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
    from labelled

)

select * from final
order by quarter_start
