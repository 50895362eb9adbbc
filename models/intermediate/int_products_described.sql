-- One row per stock code with the description to show for it: the latest description,
-- preferring lines with a price (zero-priced lines carry stock-take notes such as
-- 'damaged', '?' or 'ebay' rather than the product name). Shared by dim_products and
-- rpt_top_products_by_season, so both name a product the same way.

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_classified') }}

),

described_lines as (

    select
        *,
        row_number() over (
            partition by stock_code
            order by
                case when description is not null then 0 else 1 end,
                case when unit_price > 0 then 0 else 1 end,
                invoiced_at desc,
                source_line_number desc
        ) as description_rank
    from invoice_lines

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

)

select * from products
