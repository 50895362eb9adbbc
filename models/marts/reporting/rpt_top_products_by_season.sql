-- Grain: one merchandise stock code per meteorological season it sold in. Every product is
-- kept and ranked (not only a top N) so BI can filter on revenue_rank or units_rank.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_seasons as (

    select
        dates.season_year,
        dates.season,
        sales_lines.stock_code,
        min(dates.season_start) as season_start,
        min(dates.season_name) as season_name,
        sum(sales_lines.line_amount) as net_revenue,
        sum(sales_lines.quantity) as units
    from sales_lines
    inner join dates
        on sales_lines.invoice_date = dates.date_day
    where sales_lines.is_product
    group by dates.season_year, dates.season, sales_lines.stock_code

),

ranked as (

    select
        *,
        rank() over (
            partition by season_year, season
            order by net_revenue desc
        ) as revenue_rank,
        rank() over (
            partition by season_year, season
            order by units desc
        ) as units_rank
    from product_seasons

),

final as (

    select
        -- ids
        cast(ranked.season_year as integer) as season_year,
        cast(ranked.season as varchar) as season,
        cast(ranked.stock_code as varchar) as stock_code,

        -- text
        cast(ranked.season_name as varchar) as season_name,
        cast(products.description as varchar) as description,

        -- numbers
        cast(ranked.net_revenue as decimal(18, 3)) as net_revenue,
        cast(ranked.units as bigint) as units,
        cast(ranked.revenue_rank as integer) as revenue_rank,
        cast(ranked.units_rank as integer) as units_rank,

        -- dates
        cast(ranked.season_start as date) as season_start

    from ranked
    left join products
        on ranked.stock_code = products.stock_code

)

select * from final
