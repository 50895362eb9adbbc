{#- dbt's is_incremental() asks the warehouse whether the model's table exists, so a
    compile with no warehouse reachable (CI's `dbt compile --target athena|redshift`)
    cannot call it. With the var `compile_offline` set to 'full' or 'incremental' the
    answer is given instead of asked; without it, dbt's own macro answers as usual. -#}

{% macro is_incremental() -%}
{%- set offline = var('compile_offline', none) -%}
{%- if offline is not none -%}
{{ return(offline == 'incremental' and model.config.materialized == 'incremental') }}
{%- endif -%}
{{ return(dbt.is_incremental()) }}
{%- endmacro %}
