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
        -- ids
        invoice_lines.event_id,
        invoice_lines.invoice_no,
        invoice_lines.stock_code,
        invoice_lines.customer_id,

        -- lineage
        invoice_lines.source_file,
        invoice_lines.source_line_number,

        -- text
        invoice_lines.description,
        invoice_lines.country_name,
        invoice_lines.line_type,
        coalesce(
            stock_code_categories.product_category, 'merchandise'
        ) as product_category,

        -- numbers
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.line_amount,

        -- booleans
        stock_code_categories.stock_code is null as is_product,

        -- dates and timestamps
        invoice_lines.invoice_date,
        invoice_lines.invoiced_at,
        invoice_lines.ingested_at
    from invoice_lines
    left join stock_code_categories
        on invoice_lines.stock_code = stock_code_categories.stock_code

)

select * from classified
