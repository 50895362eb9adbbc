-- MetricFlow's day time spine: one row per calendar day, from the calendar dimension, so
-- metrics by metric_time use the same days (and ISO weeks) as the revenue reports.

with

dates as (

    select * from {{ ref('dim_dates') }}

),

final as (

    select date_day
    from dates

)

select * from final
