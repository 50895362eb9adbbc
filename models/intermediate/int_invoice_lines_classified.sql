-- The one place a line is classified, and the only model that says what revenue is:
-- - its document type (line_type) from the invoice number's prefix, and its amount split
--   by that type into gross sales, returns and adjustments (each line's amount lands in
--   exactly one of them, so gross + returns + adjustments = line_amount on every line);
-- - its stock code category, from the stock_code_categories seed (any code not in the
--   seed is merchandise).
-- Every revenue figure downstream (facts, reports, semantic layer, BI) sums these columns.

with

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

stock_code_categories as (

    select * from {{ ref('stock_code_categories') }}

),

typed as (

    select
        *,
        -- the invoice number's prefix says what kind of document the line is on
        case
            when invoice_no like 'C%' then 'cancellation'
            when invoice_no like 'A%' then 'adjustment'
            else 'sale'
        end as line_type
    from invoice_lines

),

classified as (

    select
        -- ids
        typed.event_id,
        typed.invoice_no,
        typed.stock_code,
        typed.customer_id,

        -- lineage
        typed.source_file,
        typed.source_line_number,

        -- text
        typed.description,
        typed.country_name,
        typed.line_type,
        coalesce(
            stock_code_categories.product_category, 'merchandise'
        ) as product_category,

        -- numbers: the line's amount, and the same amount under its document type
        typed.quantity,
        typed.unit_price,
        typed.line_amount,
        cast(
            case when typed.line_type = 'sale' then typed.line_amount else 0 end
            as decimal(18, 3)
        ) as gross_sales_amount,
        cast(
            case when typed.line_type = 'cancellation' then typed.line_amount else 0 end
            as decimal(18, 3)
        ) as returns_amount,
        cast(
            case when typed.line_type = 'adjustment' then typed.line_amount else 0 end
            as decimal(18, 3)
        ) as adjustments_amount,

        -- booleans
        stock_code_categories.stock_code is null as is_product,

        -- dates and timestamps
        typed.invoice_date,
        typed.invoiced_at,
        typed.ingested_at
    from typed
    left join stock_code_categories
        on typed.stock_code = stock_code_categories.stock_code

)

select * from classified
