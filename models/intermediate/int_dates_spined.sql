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
        -- the day before 1 January of the year after the last invoice
        cast(
            {{ dbt.dateadd(
                'day', -1, dbt.dateadd('year', 1, dbt.date_trunc('year', 'max(invoice_date)'))
            ) }} as date
        ) as last_day
    from invoice_lines

),

digits as (

    {% for digit in range(10) %}
    select {{ digit }} as digit
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

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
