-- Weeks straddle month ends, so they cannot be checked against months one by one:
-- instead every ISO week of rpt_revenue_weekly equals the staging lines of the days from
-- its Monday to its Sunday, and no week with lines is missing.

with

weekly_report as (

    select * from {{ ref('rpt_revenue_weekly') }}

),

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

lines_by_week as (

    select
        cast({{ dbt.date_trunc('week', 'invoice_date') }} as date) as week_start,
        sum(line_amount) as net_revenue
    from invoice_lines
    group by 1

),

compared as (

    select
        coalesce(weekly_report.period_start, lines_by_week.week_start) as week_start,
        weekly_report.period_end,
        weekly_report.net_revenue as report_net_revenue,
        lines_by_week.net_revenue as lines_net_revenue
    from weekly_report
    full outer join lines_by_week
        on weekly_report.period_start = lines_by_week.week_start

)

select *
from compared
where
    report_net_revenue is null
    or lines_net_revenue is null
    or abs(report_net_revenue - lines_net_revenue) >= 0.001
    -- a week is Monday to Sunday
    or period_end <> cast({{ dbt.dateadd('day', 6, 'week_start') }} as date)
