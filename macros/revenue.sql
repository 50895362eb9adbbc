{#- The revenue arithmetic, written once. Every revenue report aggregates fct_sales_lines
    with these measures, so gross + returns + adjustments = net holds in all of them. -#}

{% macro revenue_measures() %}
        -- money: sale lines, cancellation lines (negative), adjustment lines, all lines
        cast(sum(case when line_type = 'sale' then line_amount else 0 end)
            as decimal(18, 3)) as gross_sales,
        cast(sum(case when line_type = 'cancellation' then line_amount else 0 end)
            as decimal(18, 3)) as returns,
        cast(sum(case when line_type = 'adjustment' then line_amount else 0 end)
            as decimal(18, 3)) as adjustments,
        cast(sum(line_amount) as decimal(18, 3)) as net_revenue,
        -- counts: documents, real customers (NULL customer_id is not one), net merchandise units
        cast(count(distinct invoice_no) as integer) as invoices,
        cast(count(distinct customer_id) as integer) as customers,
        cast(sum(case when is_product then quantity else 0 end) as bigint) as units
{%- endmacro %}


{#- One row per calendar period (week, month or quarter) with the revenue measures. The
    period boundaries come from dim_dates (<period>_start / <period>_end), so every report
    uses the same calendar as BI. Periods without a single line are left out. -#}

{% macro revenue_by_period(period) %}
{%- if period not in ['week', 'month', 'quarter'] -%}
    {{ exceptions.raise_compiler_error(
        "revenue_by_period: period must be week, month or quarter, not " ~ period
    ) }}
{%- endif %}

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

lines_in_periods as (

    select
        dates.{{ period }}_start as period_start,
        dates.{{ period }}_end as period_end,
        sales_lines.invoice_no,
        sales_lines.customer_id,
        sales_lines.line_type,
        sales_lines.is_product,
        sales_lines.quantity,
        sales_lines.line_amount
    from sales_lines
    inner join dates
        on sales_lines.invoice_date = dates.date_day

),

final as (

    select
        -- dates
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        {{ revenue_measures() }}
    from lines_in_periods
    group by period_start, period_end

)

select * from final
{% endmacro %}
