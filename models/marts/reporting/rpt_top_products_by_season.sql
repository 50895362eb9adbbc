-- Grain: one merchandise stock code per meteorological season it sold in (primary key:
-- season_year, season, stock_code). Every product is kept and ranked (not only a top N)
-- so BI can filter on revenue_rank or units_rank.

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

dates as (

    select * from {{ ref('dim_dates') }}

),

products as (

    -- the product's description as dim_products shows it
    select * from {{ ref('int_products_described') }}

),

product_seasons as (

    -- each line carries its season's first day (fct_sales_lines.season_start)
    select
        season_start,
        stock_code,
        sum(line_amount) as net_revenue,
        sum(quantity) as units
    from sales_lines
    where is_product
    group by season_start, stock_code

),

seasons as (

    -- the season's year, name and label are those of its first day in the calendar
    select
        product_seasons.*,
        dates.season_year,
        dates.season,
        dates.season_name
    from product_seasons
    inner join dates
        on product_seasons.season_start = dates.date_day

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
    from seasons

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
