"""Stand-in for dbt's `flags` in sqlfluff's jinja templater: lint the SQL a run builds."""

WHICH = "run"
