{#- A period revenue report (period_start, period_end, net_revenue) reconciles to the
    lines: every period's net_revenue equals the staging lines' line_amount summed over
    the invoice dates of that period, to the 0.001, no period missing on either side, and
    each period is a whole calendar period: period_start is the first day of its
    `period` (for a week, its Monday) and period_end the day before the next one begins
    (for a week, its Sunday). Staging is the reference because it sits before the
    classification, the facts and the calendar join. Fails once per period that differs.
    With `test_window_days` set (macros/test_window.sql) only the periods of the lines
    landed in the window are compared. -#}

{% test revenue_reconciles_to_lines(model, period) %}
{%- if period not in ['week', 'month', 'quarter'] -%}
    {{ exceptions.raise_compiler_error(
        "revenue_reconciles_to_lines: period must be week, month or quarter, not " ~ period
    ) }}
{%- endif %}
{#- a period's length in units every engine's interval arithmetic knows (PostgreSQL has
    no quarter interval) -#}
{%- set length = {'week': ['day', 7], 'month': ['month', 1], 'quarter': ['month', 3]}[period] %}
{%- set window_start = test_window_start(ref('stg_online_retail__invoice_lines')) %}

with

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

{% if window_start is not none %}
windowed_periods as (

    -- the periods the lines landed in the window fall in
    select distinct cast({{ dbt.date_trunc(period, 'invoice_date') }} as date) as period_start
    from invoice_lines
    where ingested_at > {{ window_start }}

),
{% endif %}

report as (

    select * from {{ model }}

),

lines_by_period as (

    select
        cast({{ dbt.date_trunc(period, 'invoice_date') }} as date) as period_start,
        sum(line_amount) as net_revenue
    from invoice_lines
    {% if window_start is not none %}
    where
        invoice_date >= (select min(windowed.period_start) from windowed_periods as windowed)
    {% endif %}
    group by 1

),

compared as (

    select
        coalesce(report.period_start, lines_by_period.period_start) as period_start,
        report.period_end,
        report.net_revenue as report_net_revenue,
        lines_by_period.net_revenue as lines_net_revenue,
        cast({{ dbt.date_trunc(period, 'report.period_start') }} as date)
            as calendar_period_start,
        cast(
            {{ dbt.dateadd(
                'day', -1, dbt.dateadd(length[0], length[1], 'report.period_start')
            ) }}
            as date
        ) as calendar_period_end
    from report
    full outer join lines_by_period
        on report.period_start = lines_by_period.period_start
    {% if window_start is not none %}
    where
        coalesce(report.period_start, lines_by_period.period_start)
        in (select windowed.period_start from windowed_periods as windowed)
    {% endif %}

)

select *
from compared
where
    report_net_revenue is null
    or lines_net_revenue is null
    or abs(report_net_revenue - lines_net_revenue) >= 0.001
    -- a whole period: a week runs Monday to Sunday, a month 1st to last, ...
    or period_start <> calendar_period_start
    or period_end <> calendar_period_end

{% endtest %}
