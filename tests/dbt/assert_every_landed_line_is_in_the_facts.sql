-- Every line of the transformed zone (each event_id) is in fct_sales_lines: an incremental
-- build that skipped a file (one that landed later than the late-arrival look-back
-- reaches, see macros/late_arrivals.sql) fails here, one row per missing line, instead
-- of leaving the line out silently. Read from the source, not staging: on the
-- warehouses staging is incremental too, and would miss the same line.

with

landed_lines as (

    -- through lake_source, so an empty zone counts 0
    {{ lake_source('online_retail', 'invoice_lines') }}

),

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}

),

landed_events as (

    -- one row per line, with a file it landed in (a redelivered line has two)
    select
        event_id,
        max(source_file) as source_file
    from landed_lines
    group by event_id

),

missing as (

    select
        landed_events.event_id,
        landed_events.source_file
    from landed_events
    left join sales_lines
        on landed_events.event_id = sales_lines.event_id
    where sales_lines.event_id is null

)

select * from missing
