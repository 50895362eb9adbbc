-- One row per stock code with the description to show for it: the latest description,
-- preferring lines with a price (zero-priced lines carry stock-take notes such as
-- 'damaged', '?' or 'ebay' rather than the product name). Shared by dim_products and
-- rpt_top_products_by_season, so both name a product the same way.
-- Incremental: the row keeps the sort key of the line its description comes from (the
-- best_ columns), so a build ranks only the lines landed since the last one against it
-- and upserts the codes they touch; a full build ranks every line. Both give the same
-- rows (bench/bench_warehouse.py compares them at 1x and 10x).
{{
    config(
        materialized='incremental',
        unique_key='stock_code',
        on_schema_change='fail',
    )
}}

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_classified') }}

),

candidate_lines as (

    select
        stock_code,
        description,
        product_category,
        is_product,
        invoiced_at as first_invoiced_at,
        invoiced_at as last_invoiced_at,
        ingested_at as last_ingested_at,
        -- the ranking: a line with a description first, then one with a price, then
        -- the latest; a line landed again (same key) wins over its earlier landing
        case when description is not null then 1 else 0 end as best_has_description,
        case when unit_price > 0 then 1 else 0 end as best_is_priced,
        invoiced_at as best_invoiced_at,
        source_line_number as best_source_line_number,
        1 as is_new
    from invoice_lines
    {% if is_incremental() %}
    where
        ingested_at > {{ late_arrival_watermark(this, 'last_ingested_at') }}

    union all

    -- each touched code's current best line, as the built row remembers it
    select
        built.stock_code,
        built.description,
        built.product_category,
        built.is_product,
        built.first_invoiced_at,
        built.last_invoiced_at,
        built.last_ingested_at,
        built.best_has_description,
        built.best_is_priced,
        built.best_invoiced_at,
        built.best_source_line_number,
        0 as is_new
    from {{ this }} as built
    where
        built.stock_code in (
            select landed.stock_code
            from invoice_lines as landed
            where
                landed.ingested_at > {{ late_arrival_watermark(this, 'last_ingested_at') }}
        )
    {% endif %}

),

described_lines as (

    select
        *,
        row_number() over (
            partition by stock_code
            order by
                best_has_description desc,
                best_is_priced desc,
                best_invoiced_at desc,
                best_source_line_number desc,
                is_new desc
        ) as description_rank
    from candidate_lines

),

products as (

    select
        stock_code,
        max(case when description_rank = 1 then description end) as description,
        max(product_category) as product_category,
        -- is_product is the same on every line of a stock code (it comes from the code)
        max(case when is_product then 1 else 0 end) = 1 as is_product,
        min(first_invoiced_at) as first_invoiced_at,
        max(last_invoiced_at) as last_invoiced_at,
        max(last_ingested_at) as last_ingested_at,
        -- the sort key of the line the description comes from
        max(case when description_rank = 1 then best_has_description end)
            as best_has_description,
        max(case when description_rank = 1 then best_is_priced end) as best_is_priced,
        max(case when description_rank = 1 then best_invoiced_at end) as best_invoiced_at,
        max(case when description_rank = 1 then best_source_line_number end)
            as best_source_line_number
    from described_lines
    group by stock_code

),

final as (

    select
        stock_code,
        description,
        product_category,
        is_product,
        first_invoiced_at,
        last_invoiced_at,
        last_ingested_at,
        best_has_description,
        best_is_priced,
        best_invoiced_at,
        best_source_line_number
    from products

)

select * from final
