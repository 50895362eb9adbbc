{#- The one dedupe on event_id. The stream path can land one record more than once (same
    event_id, a later ingested_at), in the transformed and in the quarantine zone alike:
    every staging model over the lake keeps each event_id's latest landing through this,
    so the rule is written once. Lines that merely look alike have their own event_id and
    are all kept. Returns a select of every column of `relation` but the rank. -#}

{% macro latest_landing(relation) %}
    select *
    from (
        select
            *,
            row_number() over (
                partition by event_id
                order by ingested_at desc
            ) as landing_rank
        from {{ relation }}
    ) as ranked_landings
    where landing_rank = 1
{%- endmacro %}
