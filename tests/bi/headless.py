"""Headless Chromium for the BI tests: Debian's `chromium` driven from the command line
(--dump-dom after the page's scripts ran, --screenshot). No driver, no browser download."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# What Chromium needs to run as root in a container, quietly and without the network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
]


def chromium() -> str:
    """The browser's path, or skip the test saying how to get it."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.skip("needs Debian's chromium: apt-get install -y chromium (.ci/run installs it)")
    return found


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def dump_dom(url: str, budget_ms: int = 10_000) -> str:
    """The DOM after the page's scripts ran (virtual time lets timers and loads finish)."""
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url]).stdout


def screenshot(url: str, out: Path, width: int = 1280, height: int = 3400) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--window-size={width},{height}", "--virtual-time-budget=10000",
          f"--screenshot={out}", url])  # fmt: skip
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{out} is not a PNG"
    return out
