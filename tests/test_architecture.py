"""The package's shape, proven: what a Lambda handler imports (transitively), and that
every module outside tests/ is small and opens with a docstring saying what it holds.
(The import layers themselves are import-linter's contracts in pyproject.toml.)"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
HANDLERS = (
    *(
        f"ingestion.stream.handlers.{name}"
        for name in ("api", "kinesis_consumer", "firehose_transform", "query_api")
    ),
    "ingestion.catalog.partition_registrar",
    "ingestion.batch.upload_trigger",
)
# Handlers the template gives no pyarrow layer: their closure must not reach pyarrow.
WITHOUT_ARROW = ("ingestion.batch.upload_trigger",)
# What the Lambda artifact must never carry: the emulator, the warehouse, the laptop's layers.
NOT_IN_LAMBDA = {"moto", "duckdb", "dbt", "local_stack", "bi", "cli"}
PROJECT_PACKAGES = {"ingestion", "bi", "local_stack", "cli"}
MAX_MODULE_LINES = 400
# build/ holds `make package`'s artifacts (pip-installed third-party code), not ours
NOT_SOURCE = {
    "tests",
    "target",
    "dbt_packages",
    "logs",
    "lake",
    "warehouse",
    "node_modules",
    "build",
}


@cache
def import_closure(module: str) -> tuple[str, ...]:
    """Every module in sys.modules after importing `module` in a fresh interpreter, as
    the Lambda runtime imports a handler."""
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    return tuple(json.loads(done.stdout.splitlines()[-1]))


def imports_subprocess(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(alias.name.split(".")[0] == "subprocess" for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "subprocess":
            return True
    return False


def project_modules_importing_subprocess(modules: tuple[str, ...]) -> list[str]:
    found = []
    for name in modules:
        if name.split(".")[0] not in PROJECT_PACKAGES:
            continue  # botocore itself imports subprocess; only our own code is judged
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and imports_subprocess(Path(spec.origin).read_text("utf-8")):
            found.append(name)
    return found


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_lambda_handler_reaches_no_emulator_warehouse_or_cli_code(handler: str) -> None:
    modules = import_closure(handler)
    assert handler in modules
    assert {name.split(".")[0] for name in modules} & NOT_IN_LAMBDA == set()


@pytest.mark.parametrize("handler", WITHOUT_ARROW)
def test_a_handler_without_the_layer_imports_no_pyarrow(handler: str) -> None:
    assert not [m for m in import_closure(handler) if m.split(".")[0] == "pyarrow"]


@pytest.mark.parametrize("handler", HANDLERS)
def test_no_project_module_a_lambda_handler_imports_starts_a_process(handler: str) -> None:
    assert project_modules_importing_subprocess(import_closure(handler)) == []


def test_the_subprocess_check_does_find_a_module_that_starts_one() -> None:
    """The check above is not vacuous: the emulator's dbt runner starts dbt."""
    assert project_modules_importing_subprocess(("local_stack.dbt_build",)) == [
        "local_stack.dbt_build"
    ]


def source_modules() -> list[Path]:
    return sorted(
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not any(
            part.startswith(".") or part in NOT_SOURCE
            for part in path.relative_to(PROJECT_DIR).parts[:-1]
        )
    )


def test_every_module_outside_tests_is_at_most_400_lines() -> None:
    long = {
        str(path.relative_to(PROJECT_DIR)): lines
        for path in source_modules()
        if (lines := len(path.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_module_outside_tests_opens_with_a_docstring() -> None:
    modules = source_modules()
    assert any(path.parts[-2:] == ("ingestion", "errors.py") for path in modules)
    missing = [
        str(path.relative_to(PROJECT_DIR))
        for path in modules
        if not (ast.get_docstring(ast.parse(path.read_text("utf-8"))) or "").strip()
    ]
    assert missing == []
