-- rpt_revenue_monthly.net_revenue equals the sum of the staging lines' line_amount in
-- every month, to the 0.001, and no month is missing on either side. Staging is the
-- reference because it sits before the seed join, the facts and the calendar join.

with

monthly_report as (

    select * from {{ ref('rpt_revenue_monthly') }}

),

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

lines_by_month as (

    select
        cast({{ dbt.date_trunc('month', 'invoice_date') }} as date) as month_start,
        sum(line_amount) as net_revenue
    from invoice_lines
    group by 1

),

compared as (

    select
        coalesce(monthly_report.period_start, lines_by_month.month_start) as month_start,
        monthly_report.net_revenue as report_net_revenue,
        lines_by_month.net_revenue as lines_net_revenue
    from monthly_report
    full outer join lines_by_month
        on monthly_report.period_start = lines_by_month.month_start

)

select *
from compared
where
    report_net_revenue is null
    or lines_net_revenue is null
    or abs(report_net_revenue - lines_net_revenue) >= 0.001
