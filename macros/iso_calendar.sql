{#- ISO 8601 calendar parts. Engines name these differently, so each is dispatched:
    DuckDB and Postgres take extract(isoyear / week / isodow), Athena (Trino) has its own
    functions, Redshift has no isoyear / isodow date part but to_char's IYYY / IW / ID.
    All return integers; weeks start on Monday (day 1). -#}

{% macro iso_year(date_expr) -%}
{{ return(adapter.dispatch('iso_year', 'online_retail')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_year(date_expr) -%}
cast(extract(isoyear from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro athena__iso_year(date_expr) -%}
cast(year_of_week({{ date_expr }}) as integer)
{%- endmacro %}

{% macro redshift__iso_year(date_expr) -%}
cast(to_char({{ date_expr }}, 'IYYY') as integer)
{%- endmacro %}


{% macro iso_week(date_expr) -%}
{{ return(adapter.dispatch('iso_week', 'online_retail')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_week(date_expr) -%}
cast(extract(week from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro athena__iso_week(date_expr) -%}
cast(week_of_year({{ date_expr }}) as integer)
{%- endmacro %}

{% macro redshift__iso_week(date_expr) -%}
cast(to_char({{ date_expr }}, 'IW') as integer)
{%- endmacro %}


{% macro iso_day_of_week(date_expr) -%}
{{ return(adapter.dispatch('iso_day_of_week', 'online_retail')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
cast(extract(isodow from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro athena__iso_day_of_week(date_expr) -%}
cast(day_of_week({{ date_expr }}) as integer)
{%- endmacro %}

{% macro redshift__iso_day_of_week(date_expr) -%}
cast(to_char({{ date_expr }}, 'ID') as integer)
{%- endmacro %}
