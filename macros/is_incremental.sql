{#- dbt's is_incremental() asks the warehouse whether the model's table exists, so a
    compile with no warehouse reachable cannot call it. The var `compile_offline` set to
    'full' or 'incremental' gives the answer instead of asking (CI compiles both
    branches). Without the var, `dbt compile` on a warehouse target (Athena, Redshift)
    answers 'full' without asking, so `dbt compile --target athena --no-populate-cache`
    works with no credentials at all (add --vars '{compile_offline: incremental}' for the
    incremental SQL); everything else (runs, builds, and any command on DuckDB or
    PostgreSQL) is dbt's own macro. -#}

{% macro is_incremental() -%}
{%- set offline = var('compile_offline', none) -%}
{%- set warehouse_compile = flags.WHICH == 'compile' and target.type in ['athena', 'redshift'] -%}
{%- if offline is none and warehouse_compile -%}{%- set offline = 'full' -%}{%- endif -%}
{%- if offline is not none -%}
{{ return(offline == 'incremental' and model.config.materialized == 'incremental') }}
{%- endif -%}
{{ return(dbt.is_incremental()) }}
{%- endmacro %}
