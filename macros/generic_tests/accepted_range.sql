{#- Fails on every non-null value of `column_name` outside [min_value, max_value];
    either bound may be left out, and `inclusive=false` makes both bounds strict. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("accepted_range needs min_value or max_value") }}
{%- endif -%}

{%- set out_of_range = [] -%}
{%- if min_value is not none -%}
    {%- do out_of_range.append(
        column_name ~ (' < ' if inclusive else ' <= ') ~ min_value
    ) -%}
{%- endif -%}
{%- if max_value is not none -%}
    {%- do out_of_range.append(
        column_name ~ (' > ' if inclusive else ' >= ') ~ max_value
    ) -%}
{%- endif %}

select *
from {{ model }}
where
    {{ column_name }} is not null
    and ({{ out_of_range | join(' or ') }})

{% endtest %}
