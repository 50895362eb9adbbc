"""Stand-in for dbt's `adapter` in sqlfluff's jinja templater: a dispatched macro renders
as a plain function call of the same name, which is enough to lint the SQL around it."""


def dispatch(macro_name, macro_namespace=None):
    def call(*args, **kwargs):
        return f"{macro_name}({', '.join(str(arg) for arg in args)})"

    return call
