-- The revenue measures of every week, month and quarter that has lines (grain: period,
-- period_start), built incrementally for the three period reports: a build recomputes
-- only the periods that lines landed since the last build fall in (from all of those
-- periods' lines, so distinct counts stay exact), and replaces them (delete+insert on
-- period and period_start). Each period keeps the landing time of its latest line
-- (last_ingested_at); the latest of them all is how far the model has read the lines.
-- The reports read their period's rows from here: one aggregation of the lines per
-- build, not one per report.
{{
    config(
        materialized='incremental',
        unique_key=['period', 'period_start'],
        on_schema_change='fail',
    )
}}

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

{% if is_incremental() %}
landed as (  -- noqa: ST03

    -- lines landed since the last build, late arrivals included (fct_sales_lines' rule:
    -- late_arrival_watermark looks back before the latest line built), read by
    -- each period's CTE below
    select * from sales_lines
    where
        ingested_at > {{ late_arrival_watermark(this, 'last_ingested_at') }}

),
{% endif %}

{% for period in ['week', 'month', 'quarter'] %}
{%- set period_name = "'" ~ period ~ "'" %}
{{ period }}_revenue as (

    select
        -- `period` is a keyword to sqlfluff's Redshift dialect but not one of Redshift's
        -- reserved words (https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html)
        {{ period_name }} as period,  -- noqa: LT02, RF04
        {{ period }}_start as period_start,
        max(ingested_at) as last_ingested_at,
        {{ revenue_measures() }}
    from sales_lines
    {% if is_incremental() %}
    where
        {{ period }}_start in (select landed.{{ period }}_start from landed)
    {% endif %}
    group by {{ period }}_start

),

{% endfor %}
final as (

    select * from week_revenue
    union all
    select * from month_revenue
    union all
    select * from quarter_revenue

)

select * from final
