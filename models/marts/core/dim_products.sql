-- Grain: one row per stock_code as written in the source (case matters: 85123A and
-- 85123a are two codes in the data, as are M and m).

with

products as (

    -- the description rule lives in int_products_described, shared with the seasonal
    -- ranking
    select * from {{ ref('int_products_described') }}

),

final as (

    select
        -- ids
        cast(stock_code as varchar) as stock_code,

        -- text
        cast(description as varchar) as description,
        cast(product_category as varchar) as product_category,

        -- booleans
        cast(is_product as boolean) as is_product,

        -- timestamps
        cast(first_invoiced_at as timestamp) as first_invoiced_at,
        cast(last_invoiced_at as timestamp) as last_invoiced_at

    from products

)

select * from final
