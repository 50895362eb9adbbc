-- Every quarter of rpt_revenue_quarterly equals the sum of its three months in
-- rpt_revenue_monthly, for each additive measure (distinct counts are not additive).

with

quarterly_report as (

    select * from {{ ref('rpt_revenue_quarterly') }}

),

monthly_report as (

    select * from {{ ref('rpt_revenue_monthly') }}

),

months_by_quarter as (

    select
        cast({{ dbt.date_trunc('quarter', 'period_start') }} as date) as quarter_start,
        sum(gross_sales) as gross_sales,
        sum(returns) as returns,
        sum(adjustments) as adjustments,
        sum(net_revenue) as net_revenue,
        sum(units) as units
    from monthly_report
    group by 1

),

compared as (

    select
        coalesce(
            quarterly_report.period_start, months_by_quarter.quarter_start
        ) as quarter_start,
        quarterly_report.net_revenue as quarter_net_revenue,
        months_by_quarter.net_revenue as months_net_revenue,
        quarterly_report.gross_sales - months_by_quarter.gross_sales as gross_sales_diff,
        quarterly_report.returns - months_by_quarter.returns as returns_diff,
        quarterly_report.adjustments - months_by_quarter.adjustments as adjustments_diff,
        quarterly_report.net_revenue - months_by_quarter.net_revenue as net_revenue_diff,
        quarterly_report.units - months_by_quarter.units as units_diff
    from quarterly_report
    full outer join months_by_quarter
        on quarterly_report.period_start = months_by_quarter.quarter_start

)

select *
from compared
where
    quarter_net_revenue is null
    or months_net_revenue is null
    or abs(gross_sales_diff) >= 0.001
    or abs(returns_diff) >= 0.001
    or abs(adjustments_diff) >= 0.001
    or abs(net_revenue_diff) >= 0.001
    or units_diff <> 0
