{#- The revenue measures of every revenue report, aggregated from fct_sales_lines. The
    lines are classified, and their amounts split into gross sales, returns and
    adjustments, once (int_invoice_lines_classified): these are sums of those columns, so
    gross + returns + adjustments = net holds in every report. -#}

{% macro revenue_measures() %}
        -- money: sale lines, cancellation lines (negative), adjustment lines, all lines
        cast(sum(gross_sales_amount) as decimal(18, 3)) as gross_sales,
        cast(sum(returns_amount) as decimal(18, 3)) as returns,
        cast(sum(adjustments_amount) as decimal(18, 3)) as adjustments,
        cast(sum(line_amount) as decimal(18, 3)) as net_revenue,
        -- counts: documents, real customers (NULL customer_id is not one), net merchandise units
        cast(count(distinct invoice_no) as integer) as invoices,
        cast(count(distinct customer_id) as integer) as customers,
        cast(sum(case when is_product then quantity else 0 end) as bigint) as units
{%- endmacro %}


{#- One row per calendar period (week, month or quarter) with the revenue measures, as
    int_revenue_by_period keeps them (built incrementally: only the periods new lines
    fall in are recomputed). Every line carries the first day of its period
    (fct_sales_lines' <period>_start, from dim_dates); the period's last day comes from
    dim_dates' <period>_end of that first day, so every report uses the same calendar as
    BI. Periods without a single line are left out. -#}

{% macro revenue_by_period(period) %}
{%- if period not in ['week', 'month', 'quarter'] -%}
    {{ exceptions.raise_compiler_error(
        "revenue_by_period: period must be week, month or quarter, not " ~ period
    ) }}
{%- endif %}

with

revenue_by_period as (

    select * from {{ ref('int_revenue_by_period') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

periods as (

    select * from revenue_by_period
    where period = '{{ period }}'

),

final as (

    select
        -- dates
        cast(periods.period_start as date) as period_start,
        cast(dates.{{ period }}_end as date) as period_end,

        -- numbers
        periods.gross_sales,
        periods.returns,
        periods.adjustments,
        periods.net_revenue,
        periods.invoices,
        periods.customers,
        periods.units
    from periods
    inner join dates
        on periods.period_start = dates.date_day

)

select * from final
{% endmacro %}
