"""The template, parsed as CloudFormation reads it (intrinsics as {"Fn::...": ...})."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    from cfnlint.decode import decode

    parsed, matches = decode(str(PROJECT_DIR / "template.yaml"))
    assert not matches, matches
    return parsed


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]
