-- Staging lines joined to the stock code categories seed: the one place a line learns
-- whether it is merchandise. Any code not in the seed is merchandise.

with

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

stock_code_categories as (

    select * from {{ ref('stock_code_categories') }}

),

classified as (

    select
        invoice_lines.*,
        coalesce(
            stock_code_categories.product_category, 'merchandise'
        ) as product_category,
        stock_code_categories.stock_code is null as is_product
    from invoice_lines
    left join stock_code_categories
        on invoice_lines.stock_code = stock_code_categories.stock_code

)

select * from classified
