"""Stand-in for dbt's `exceptions` in sqlfluff's jinja templater."""


def raise_compiler_error(message):
    raise RuntimeError(message)
