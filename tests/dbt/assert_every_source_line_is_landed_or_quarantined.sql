-- For every batch source file, the latest batch manifest's rows_in equals the lines of
-- that file landed in the transformed zone plus its lines in quarantine: nothing read was
-- lost or doubled, and no batch file is in the lake without a manifest (or the other way
-- round). Landed lines are counted in the source, before staging keeps one row per
-- event_id: a line the stream delivers again (same event_id) must not make its file look
-- short.
-- Stream deliveries (raw/online_retail/stream/... for lines posted to the API, stream:<name>
-- for records put on the stream directly; see ingestion/stream/records.py) have no batch
-- manifest and are left out: `online-retail stream` reconciles them hop by hop.
-- With `test_window_days` set (macros/test_window.sql), only the files whose latest batch
-- run finished in the last N days (before the latest run) are counted.
{%- set window_days = var('test_window_days', none) %}

with

manifests as (

    select * from {{ ref('stg_online_retail__batch_manifests') }}

),

invoice_lines as (

    -- the source (through lake_source, so an empty zone counts 0), not staging
    {{ lake_source('online_retail', 'invoice_lines') }}

),

quarantined_lines as (

    select * from {{ ref('stg_online_retail__quarantined_lines') }}

),

latest_manifests as (

    select
        source_file,
        rows_in,
        finished_at,
        row_number() over (
            partition by source_file
            order by finished_at desc
        ) as run_rank
    from manifests

),

{% if window_days is not none %}
windowed_files as (

    select source_file
    from latest_manifests
    where
        run_rank = 1
        and finished_at > {{ dbt.dateadd(
            'day', -(window_days | int), '(select max(finished_at) from manifests)'
        ) }}

),
{% endif %}

landed as (

    select
        source_file,
        count(*) as rows_landed
    from invoice_lines
    {% if window_days is not none %}
    where source_file in (select windowed.source_file from windowed_files as windowed)
    {% endif %}
    group by source_file

),

quarantined as (

    select
        source_file,
        count(*) as rows_quarantined
    from quarantined_lines
    group by source_file

),

files as (

    -- union distinct spelled out: Redshift has no `union distinct`, and a bare
    -- `union` reads as a possible slip
    select distinct source_file
    from (
        select source_file
        from latest_manifests
        where run_rank = 1
        union all
        select source_file from landed
        union all
        select source_file from quarantined
    ) as all_files

),

batch_files as (

    select source_file
    from files
    where
        source_file not like 'raw/online_retail/stream/%'
        and source_file not like 'stream:%'
        {% if window_days is not none %}
        and source_file in (select windowed.source_file from windowed_files as windowed)
        {% endif %}

),

compared as (

    select
        batch_files.source_file,
        latest_manifests.rows_in,
        coalesce(landed.rows_landed, 0) as rows_landed,
        coalesce(quarantined.rows_quarantined, 0) as rows_quarantined
    from batch_files
    left join latest_manifests
        on
            batch_files.source_file = latest_manifests.source_file
            and latest_manifests.run_rank = 1
    left join landed
        on batch_files.source_file = landed.source_file
    left join quarantined
        on batch_files.source_file = quarantined.source_file

)

select *
from compared
where
    rows_in is null
    or rows_in <> rows_landed + rows_quarantined
