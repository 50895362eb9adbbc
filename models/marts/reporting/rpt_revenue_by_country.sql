-- Grain: one country as the source names it, over the whole dataset.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

countries as (

    select * from {{ ref('dim_countries') }}

),

revenue as (

    select
        country_name,
        {{ revenue_measures() }}
    from sales_lines
    group by country_name

),

final as (

    select
        -- ids
        revenue.country_name,
        countries.iso_alpha2,

        -- text
        countries.display_name,
        countries.region,
        countries.sub_region,

        -- numbers
        revenue.gross_sales,
        revenue.returns,
        revenue.adjustments,
        revenue.net_revenue,
        revenue.invoices,
        revenue.customers,
        revenue.units

    from revenue
    left join countries
        on revenue.country_name = countries.country_name

)

select * from final
