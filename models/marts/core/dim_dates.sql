with

days as (

    select * from {{ ref('int_dates_spined') }}

),

date_parts as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(quarter from date_day) as integer) as quarter_of_year,
        cast(extract(month from date_day) as integer) as month_of_year,
        {{ iso_year('date_day') }} as iso_year,
        {{ iso_week('date_day') }} as iso_week,
        {{ iso_day_of_week('date_day') }} as day_of_week,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start
    from days

),

seasons as (

    select
        *,
        -- UK meteorological seasons: whole months, winter = Dec, Jan, Feb
        case
            when month_of_year in (12, 1, 2) then 'winter'
            when month_of_year in (3, 4, 5) then 'spring'
            when month_of_year in (6, 7, 8) then 'summer'
            else 'autumn'
        end as season,
        -- a winter belongs to the year it starts in: Dec 2010, Jan 2011 and Feb 2011
        -- are all winter 2010
        case
            when month_of_year in (1, 2) then calendar_year - 1
            else calendar_year
        end as season_year,
        -- months since the season began: Dec/Mar/Jun/Sep 0, then 1, then 2
        month_of_year % 3 as month_of_season
    from date_parts

),

final as (

    select
        -- ids
        date_day,

        -- text
        case month_of_year
            when 1 then 'January'
            when 2 then 'February'
            when 3 then 'March'
            when 4 then 'April'
            when 5 then 'May'
            when 6 then 'June'
            when 7 then 'July'
            when 8 then 'August'
            when 9 then 'September'
            when 10 then 'October'
            when 11 then 'November'
            else 'December'
        end as month_name,
        case day_of_week
            when 1 then 'Monday'
            when 2 then 'Tuesday'
            when 3 then 'Wednesday'
            when 4 then 'Thursday'
            when 5 then 'Friday'
            when 6 then 'Saturday'
            else 'Sunday'
        end as day_name,
        season,
        -- 'Winter 2010-11' (a winter spans two years), 'Spring 2011', ...
        case
            -- || and substring, not concat() and right(): the same on every target
            -- (Redshift's concat takes two arguments, Athena has no right())
            when season = 'winter'
                then
                    'Winter ' || cast(season_year as varchar)
                    || '-' || substring(cast(season_year + 1 as varchar), 3, 2)
            else
                upper(substring(season, 1, 1)) || substring(season, 2)
                || ' ' || cast(season_year as varchar)
        end as season_name,

        -- numbers
        calendar_year,
        quarter_of_year,
        month_of_year,
        day_of_week,
        iso_year,
        iso_week,
        season_year,

        -- booleans
        day_of_week in (6, 7) as is_weekend,

        -- dates
        week_start,
        cast({{ dbt.dateadd('day', 6, 'week_start') }} as date) as week_end,
        month_start,
        cast(
            {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date
        ) as month_end,
        quarter_start,
        cast(
            {{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'quarter_start')) }} as date
        ) as quarter_end,
        cast(
            {{ dbt.dateadd('month', '-month_of_season', 'month_start') }} as date
        ) as season_start

    from seasons

)

select * from final
