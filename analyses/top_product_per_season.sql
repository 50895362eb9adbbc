-- The best-selling product of each meteorological season by net revenue, with its share
-- of that season's merchandise revenue. Compile with `dbt compile` and run the SQL in
-- target/compiled/... against the warehouse.

with

product_seasons as (

    select * from {{ ref('rpt_top_products_by_season') }}

),

season_totals as (

    select
        season_year,
        season,
        sum(net_revenue) as season_net_revenue
    from product_seasons
    group by season_year, season

),

top_products as (

    select
        product_seasons.season_start,
        product_seasons.season_year,
        product_seasons.season,
        product_seasons.stock_code,
        product_seasons.description,
        product_seasons.net_revenue,
        product_seasons.units,
        round(
            100.0 * product_seasons.net_revenue / season_totals.season_net_revenue, 2
        ) as share_of_season_pct
    from product_seasons
    inner join season_totals
        on
            product_seasons.season_year = season_totals.season_year
            and product_seasons.season = season_totals.season
    where product_seasons.revenue_rank = 1

)

select * from top_products
order by season_start
