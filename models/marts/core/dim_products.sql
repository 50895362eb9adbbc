-- Grain: one row per stock_code as written in the source (case matters: 85123A and
-- 85123a are two codes in the data, as are M and m).

with

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

described_lines as (

    select
        *,
        -- Latest description, preferring lines with a price: zero-priced lines carry
        -- stock-take notes ('damaged', '?', 'ebay') rather than the product name.
        row_number() over (
            partition by stock_code
            order by
                case when description is not null then 0 else 1 end,
                case when unit_price > 0 then 0 else 1 end,
                invoiced_at desc,
                source_line_number desc
        ) as description_rank
    from sales_lines

),

products as (

    select
        stock_code,
        max(case when description_rank = 1 then description end) as description,
        max(product_category) as product_category,
        -- is_product is the same on every line of a stock code (it comes from the code)
        max(case when is_product then 1 else 0 end) = 1 as is_product,
        min(invoiced_at) as first_invoiced_at,
        max(invoiced_at) as last_invoiced_at
    from described_lines
    group by stock_code

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
