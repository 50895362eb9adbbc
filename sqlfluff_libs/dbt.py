"""Stand-ins for dbt's cross-database macros (dbt.date_trunc, ...) so sqlfluff's jinja
templater can render the models offline, without dbt or a warehouse. Each returns SQL of
the same shape as dbt-duckdb's implementation; only the lint sees it."""


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"date_add({from_date_or_timestamp}, interval ({interval}) {datepart})"


def datediff(first_date, second_date, datepart):
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def type_string():
    return "varchar"
