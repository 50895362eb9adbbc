"""`make check-deploy` runs inside `make test`: the template lints, passes checkov (or says
why not), translates with AWS's SAM translator, and the CI workflow passes actionlint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_check_deploy_passes() -> None:
    if not (PROJECT_DIR / ".venv-tools" / "bin" / "checkov").exists():
        pytest.skip("checkov lives in .venv-tools: run `make tools` (make test does)")
    done = subprocess.run(
        [sys.executable, "scripts/check_deploy.py"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0 and verdict.startswith("check-deploy: PASS"), done.stdout
