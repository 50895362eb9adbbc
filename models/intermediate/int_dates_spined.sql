-- One row per calendar day over the whole years the invoice lines cover. Kept apart from
-- dim_dates so the calendar attributes (seasons, ISO weeks) can be unit tested on a few
-- hand-picked days.

with

invoice_lines as (

    select * from {{ ref('stg_online_retail__invoice_lines') }}

),

bounds as (

    select
        cast({{ dbt.date_trunc('year', 'min(invoice_date)') }} as date) as first_day,
        cast(
            {{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, dbt.date_trunc('year', 'max(invoice_date)'))) }}
            as date
        ) as last_day
    from invoice_lines

),

digits as (

    select 0 as digit union all
    select 1 union all
    select 2 union all
    select 3 union all
    select 4 union all
    select 5 union all
    select 6 union all
    select 7 union all
    select 8 union all
    select 9

),

day_offsets as (

    -- 0 .. 9,999: enough days for 27 years of data, in plain portable SQL
    select
        units.digit
        + 10 * tens.digit
        + 100 * hundreds.digit
        + 1000 * thousands.digit as day_offset
    from digits as units
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands

),

spined as (

    select
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'bounds.first_day') }} as date)
            as date_day
    from bounds
    cross join day_offsets
    where day_offsets.day_offset <= {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }}

)

select * from spined
