{#- Dropping a relation on PostgreSQL and Redshift, with the views its `cascade` drops
    taken out of dbt's relation cache too.

    dbt lists relations lazily here (dbt_project.yml: `populate_cache: false`, so that a
    compile asks no warehouse), and a lazily listed cache has no links between views and
    what they read. A view rebuilt on a second build is renamed to a backup and dropped
    with `cascade`, which also drops the views that read it (int_products_described
    reads int_invoice_lines_classified); the cache still lists them, so the next
    rebuild renames a view that no longer exists and the build fails ("relation ... does
    not exist"). This drops the relation as dbt does, then evicts every view that read
    it, directly or through other views (links from the adapter's own get_relations), so
    the next rebuild creates them afresh. DuckDB's views do not cascade: not needed
    there. -#}

{% macro postgres__drop_relation(relation) -%}
{{ return(_drop_relation_and_evict_views(relation, postgres__get_relations())) }}
{%- endmacro %}

{% macro redshift__drop_relation(relation) -%}
{{ return(_drop_relation_and_evict_views(relation, redshift__get_relations())) }}
{%- endmacro %}


{% macro _drop_relation_and_evict_views(relation, links) %}
{%- set dropped = [(relation.schema ~ '.' ~ relation.identifier) | lower] -%}
{#- every view reading a dropped relation is dropped too: as many passes as links, the
    longest chain there can be -#}
{%- for _ in links.rows -%}
{%- for link in links.rows -%}
{%- set referenced = (link['referenced_schema'] ~ '.' ~ link['referenced_name']) | lower -%}
{%- set dependent = (link['dependent_schema'] ~ '.' ~ link['dependent_name']) | lower -%}
{%- if referenced in dropped and dependent not in dropped -%}
{%- do dropped.append(dependent) -%}
{%- endif -%}
{%- endfor -%}
{%- endfor -%}
{% call statement('drop_relation', auto_begin=False) -%}
{{ get_drop_sql(relation) }}
{%- endcall %}
{%- for name in dropped[1:] -%}
{%- set schema, identifier = name.split('.', 1) -%}
{%- do adapter.cache_dropped(api.Relation.create(
    database=relation.database, schema=schema, identifier=identifier, type='view'
)) -%}
{%- endfor -%}
{% endmacro %}
