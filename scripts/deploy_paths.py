"""Every name the deploy scripts and tests take from the `ingestion` package, in one place.

The template (template.yaml) is written against the layout of issue 8 (docs in
/work/plan/LAYOUT.md at the time): `ingestion.contract.schema`, `ingestion.catalog.tables`,
`ingestion.stream.handlers.<name>.handler`. Until that restructure lands, the modules
still live at their old paths; the imports below try the new path first and fall back to
the old one, so this file is the only one to edit at the merge (delete the fallbacks).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def _first(*modules: str) -> ModuleType:
    errors = []
    for name in modules:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            errors.append(f"{name}: {e}")
    raise ModuleNotFoundError("; ".join(errors))


def schema() -> ModuleType:
    """The schema contract (INVOICE_LINE_SCHEMA, QUARANTINE_SCHEMA, glue_columns)."""
    return _first("ingestion.contract.schema", "ingestion.schema")


def catalog_tables() -> ModuleType:
    """The Glue table definitions (LAKE_TABLES, DEFAULT_GLUE_DATABASE)."""
    return _first("ingestion.catalog.tables", "ingestion.catalog")


def lake() -> ModuleType:
    """Zone names (RAW_ZONE, QUARANTINE_ZONE, TRANSFORMED_ZONE, MANIFEST_ZONE)."""
    return _first("ingestion.lake")


def items() -> ModuleType:
    """DynamoDB key design (CUSTOMER_KEY, INVOICE_KEY)."""
    return _first("ingestion.stream.items")


def records() -> ModuleType:
    """Stream records (partition_keys: the Firehose dynamic-partitioning keys)."""
    return _first("ingestion.stream.records")


def settings_module() -> ModuleType:
    """The stream handlers' settings (Settings.from_env reads the environment names)."""
    return _first("ingestion.stream.settings", "ingestion.stream.aws")


# The template's handler string -> the module and attribute that hold it today.
# At the merge, every entry maps to itself and this table can go.
LEGACY_HANDLERS: dict[str, str] = {
    "ingestion.stream.handlers.api.handler": "ingestion.stream.api.rest_handler",
    "ingestion.stream.handlers.kinesis_consumer.handler": (
        "ingestion.stream.kinesis_consumer.handler"
    ),
    "ingestion.stream.handlers.firehose_transform.handler": (
        "ingestion.stream.firehose_transform.handler"
    ),
    "ingestion.stream.handlers.query_api.handler": "ingestion.stream.query_api.rest_handler",
}


def resolve_handler(handler: str) -> str:
    """The dotted path that holds `handler` in the tree as it is now."""
    module, _, _ = handler.rpartition(".")
    try:
        importlib.import_module(module)
        return handler
    except ModuleNotFoundError:
        return LEGACY_HANDLERS[handler]


def handler_module(handler: str) -> ModuleType:
    """The module of a template handler string (new layout, or today's module)."""
    return importlib.import_module(resolve_handler(handler).rpartition(".")[0])


def handler_object(handler: str) -> Any:
    path = resolve_handler(handler)
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


# What the Lambda artifact holds: the `ingestion` package less what never runs on Lambda.
# In the new layout bi/, cli and the local runner live outside `ingestion`; these entries
# are the old layout's equivalents (harmless once the paths no longer exist).
PACKAGE = "ingestion"
NOT_SHIPPED: tuple[str, ...] = (
    "ingestion/bi",
    "ingestion/cli.py",
    "ingestion/stream/local_runner.py",
    "ingestion/stream/replay.py",
    "ingestion/stream/events.py",
)
