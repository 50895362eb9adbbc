{#- Tests scoped to the new window, for the daily incremental build.

    With the var `test_window_days` set (`dbt build --vars '{test_window_days: 2}'`), a
    test of a line-grain relation (the var `test_window_relations`: the lake's lines,
    staging, the classified lines, fct_sales_lines) looks only at the lines landed in the
    last N days before the latest landing there (`ingested_at`), instead of rescanning
    every line; the reconciliation tests compare only the periods, files, invoices and
    customers those lines touch. Without the var (the default, and every full build)
    every test sees everything. The window is counted back from the relation's own
    latest landing, not from the clock, so it means the same on a lake replayed today.
    A test with its own `where` config keeps it. -#}

{% macro test_window_start(relation) -%}
{%- set days = var('test_window_days', none) -%}
{%- if days is none -%}{{ return(none) }}{%- endif -%}
{{ return(dbt.dateadd('day', -(days | int), '(select max(ingested_at) from ' ~ relation ~ ')')) }}
{%- endmacro %}


{#- dbt wraps the relation a generic test reads in this (its `where` config); here it also
    applies the window to the line-grain relations. -#}
{% macro default__get_where_subquery(relation) -%}
{%- set where = config.get('where', '') -%}
{%- set windowed = relation.identifier in var('test_window_relations', []) -%}
{%- if not where and windowed and test_window_start(relation) is not none -%}
{%- set where = 'ingested_at > ' ~ test_window_start(relation) -%}
{%- endif -%}
{%- if where -%}
{%- set filtered -%}
    (select * from {{ relation }} where {{ where }}) dbt_subquery
{%- endset -%}
{{ return(filtered) }}
{%- endif -%}
{{ return(relation) }}
{%- endmacro %}
