-- Grain: one row per country name as the source spells it ('EIRE', 'RSA', 'USA', ...).

with

countries as (

    select * from {{ ref('countries') }}

),

final as (

    select
        -- ids
        cast(country_name as varchar) as country_name,
        cast(iso_alpha2 as varchar) as iso_alpha2,

        -- text
        cast(display_name as varchar) as display_name,
        cast(region as varchar) as region,
        cast(sub_region as varchar) as sub_region

    from countries

)

select * from final
