{#- The incremental watermark of the models built on ingested_at (staging's lines on the
    warehouses, fct_sales_lines everywhere): a scalar subquery giving the time after
    which a line's ingested_at makes it one to (re)build this run.

    ingested_at is when a line was received, not when its file reached the lake, and a
    file can land after a build that already holds later lines: Firehose delivers a
    buffer up to 900 s after it opens and, while S3 delivery fails, keeps retrying until
    the source's retention (24 h by default) runs out; a batch job stamps its lines with
    its start and lands them when it ends. A watermark of max(ingested_at) would skip
    those lines for good, so the watermark looks back `late_arrival_lookback_hours`
    (dbt_project.yml) before the latest line built; the upsert on event_id makes the
    lines read again harmless. Why a look-back and not the time a file landed: not every
    target can read that time (Redshift Spectrum's pseudocolumns are $path and $size
    only, and the COPY path truncates and reloads its tables), and the var keeps one rule
    on all four targets.
    A target with no rows yet (its first build ran on an empty lake) has no watermark:
    every line is read, as a full build would.

    Arguments: `column`, the timestamp compared (ingested_at); `relation`, the model's
    own table ({{ this }}). -#}

{% macro late_arrival_watermark(relation, column='ingested_at') %}
{%- set hours = var('late_arrival_lookback_hours') -%}
{%- if execute and (hours is not integer or hours < 0) -%}
    {{ exceptions.raise_compiler_error(
        "late_arrival_lookback_hours must be a whole number of hours, 0 or more, not "
        ~ hours ~ " (dbt_project.yml, or --vars)"
    ) }}
{%- endif -%}
(
    select
        coalesce(
            {{ dbt.dateadd('hour', '-' ~ hours, 'max(built.' ~ column ~ ')') }},
            cast('1970-01-01 00:00:00' as timestamp)
        ) as watermark
    from {{ relation }} as built
)
{%- endmacro %}
