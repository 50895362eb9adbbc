"""`make package`: build each function's artifact and the pyarrow layer, and measure them.

For every AWS::Serverless::Function of template.yaml this writes its CodeUri folder
(build/lambda/<LogicalId>/: the `ingestion` package and the pip dependencies neither the
runtime nor the layer provides) and a zip beside it; for the layer, its ContentUri
(build/layer/arrow/python/...). Wheels are the ones Lambda runs: manylinux2014_x86_64,
CPython 3.11, at the versions of requirements.lock.

It then proves each artifact is whole: a clean interpreter (no site-packages) with only the
artifact, the layer if the function has it (the upload trigger has none) and boto3 (which
the runtime provides) on its path imports each handler. Last, it prints the sizes against
Lambda's limits ("Lambda quotas": 250 MB unzipped for the function and all its layers,
50 MB zipped for a direct upload) and exits 1 if one is over.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LOCK = ROOT / "requirements.lock"
RUNTIME_SIM = ROOT / "build" / "runtime-sim"  # what the python3.11 runtime brings; not shipped

# "Lambda quotas": deployment package (.zip) 50 MB zipped for direct upload; 250 MB
# unzipped, the function and all its layers together (the error says 262144000 bytes).
MAX_UNZIPPED = 262_144_000
MAX_ZIPPED = 50 * 1024 * 1024

# The runtime ships boto3 and its dependencies ("Lambda runtimes": the Python runtimes
# include the AWS SDK for Python); the layer ships pyarrow.
RUNTIME_PROVIDES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
}
LAYER_PACKAGES = ("pyarrow",)
# The python3.11 runtime runs on Amazon Linux 2, glibc 2.26 ("Lambda runtimes"), so only
# manylinux2014 (glibc 2.17) wheels load there. pyarrow 21 and later publish manylinux_2_28
# wheels only; 20.0.0 is the newest that runs on python3.11 (AWS's AWSSDKPandas-Python311
# layer likewise carries its own, older pyarrow). The python3.12+ runtimes (Amazon Linux
# 2023, glibc 2.34) would take the locked pyarrow: change Globals.Runtime and this together.
LAYER_PINS = {"pyarrow": "20.0.0"}
# Dependencies of the project that no handler imports (the import check below proves it).
NOT_FOR_LAMBDA = {"python-calamine": "reads XLSX sources in the batch job only"}
# Parts of the pyarrow wheel no handler loads: C++ headers, Cython sources, the test suite.
LAYER_PRUNE = ("pyarrow/include", "pyarrow/tests", "pyarrow/src")
LAYER_PRUNE_SUFFIXES = (".pyx", ".pxd", ".pxi", ".h", ".cc")

PIP_PLATFORM = [
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
]


@dataclass
class Artifact:
    name: str
    directory: Path
    zipped: int = 0
    unzipped: int = 0


def _template() -> dict:
    from cfnlint.decode import decode

    template, matches = decode(str(TEMPLATE))
    if matches:
        raise SystemExit(f"template.yaml does not parse: {matches[0]}")
    return template


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def _project_dependencies() -> list[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=~!\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]]


def _pip_install(target: Path, packages: list[str], pins: dict[str, str]) -> None:
    if not packages:
        return
    wanted = [f"{p}=={pins[p]}" for p in packages]
    subprocess.run(
        [
            *[sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"],
            *["--disable-pip-version-check", "--target", str(target)],
            *PIP_PLATFORM,
            *wanted,
        ],
        check=True,
    )


def _dist_name(dist_info: Path) -> str:
    return dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")


def _remove_distributions(target: Path, names: set[str]) -> None:
    """Drop what pip pulled in that the runtime already has (boto3 and its family)."""
    for dist_info in target.glob("*.dist-info"):
        name = _dist_name(dist_info)
        if name not in names:
            continue
        record = dist_info / "RECORD"
        tops = {line.split("/", 1)[0] for line in record.read_text().splitlines() if line}
        for top in tops - {"..", ""}:  # RECORD also names scripts outside the target
            path = target / top
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


# What ships: the `ingestion` package, whole. The emulator (local_stack/), BI (bi/) and the
# command line (cli/) live outside it, and import-linter keeps `ingestion` from importing them.
PACKAGE = "ingestion"


def _copy_package(target: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n == "__pycache__" or n.endswith(".pyc")}

    shutil.copytree(ROOT / PACKAGE, target / PACKAGE, ignore=ignore)


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def _zip(directory: Path) -> Path:
    archive = directory.parent / f"{directory.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for f in sorted(directory.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(directory))
    return archive


def build_layer(content_uri: Path, pins: dict[str, str]) -> Artifact:
    shutil.rmtree(content_uri, ignore_errors=True)
    site = content_uri / "python"  # where Lambda puts a layer's Python packages on sys.path
    _pip_install(site, list(LAYER_PACKAGES), {**pins, **LAYER_PINS})
    for relative in LAYER_PRUNE:
        shutil.rmtree(site / relative, ignore_errors=True)
    for f in list(site.rglob("*")):
        if f.is_file() and f.suffix in LAYER_PRUNE_SUFFIXES:
            f.unlink()
    artifact = Artifact("ArrowLayer", content_uri)
    artifact.unzipped = _size(content_uri)
    artifact.zipped = _zip(content_uri).stat().st_size
    return artifact


def build_dependencies(target: Path, pins: dict[str, str]) -> None:
    """The functions' pip dependencies, once (every function imports the same ones)."""
    shutil.rmtree(target, ignore_errors=True)
    provided = RUNTIME_PROVIDES | set(LAYER_PACKAGES) | set(NOT_FOR_LAMBDA)
    _pip_install(target, [d for d in _project_dependencies() if d not in provided], pins)
    _remove_distributions(target, RUNTIME_PROVIDES | set(LAYER_PACKAGES))


def build_function(name: str, code_uri: Path, dependencies: Path) -> Artifact:
    shutil.rmtree(code_uri, ignore_errors=True)
    shutil.copytree(dependencies, code_uri)
    _copy_package(code_uri)
    artifact = Artifact(name, code_uri)
    artifact.unzipped = _size(code_uri)
    artifact.zipped = _zip(code_uri).stat().st_size
    return artifact


_IMPORT_CHECK = """
import importlib, json, sys
paths, handler = json.loads(sys.argv[1])
sys.path[:0] = paths
module, _, attribute = handler.rpartition(".")
found = importlib.import_module(module)
assert callable(getattr(found, attribute)), handler
print(found.__name__ + "." + attribute)
"""


def import_check(artifact: Artifact, handler: str, layer: Path | None) -> str:
    """Import the handler with nothing but the artifact, its layer and the runtime's SDK."""
    paths = [str(artifact.directory), *([str(layer / "python")] if layer else []), str(RUNTIME_SIM)]
    done = subprocess.run(
        [
            *[sys.executable, "-I", "-S", "-c", _IMPORT_CHECK],
            json.dumps([paths, handler]),
        ],
        capture_output=True,
        text=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ.get("PATH", "")},
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"FAILED ({last})"
    return f"ok ({done.stdout.strip()})"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:7.1f} MB"


def main() -> int:
    template = _template()
    pins = _pins()
    resources = template["Resources"]
    layers = {
        name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::LayerVersion"
    }
    functions = {
        name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"
    }
    if list(layers) != ["ArrowLayer"]:
        raise SystemExit(f"expected one layer, ArrowLayer, in the template: {list(layers)}")

    print("building the runtime's SDK (for the import check only) ...")
    shutil.rmtree(RUNTIME_SIM, ignore_errors=True)
    _pip_install(RUNTIME_SIM, ["boto3"], pins)
    print("building the layer ...")
    layer_dir = ROOT / layers["ArrowLayer"]["Properties"]["ContentUri"]
    layer = build_layer(layer_dir, pins)

    print("building the functions' dependencies ...")
    dependencies = ROOT / "build" / "lambda-deps"
    build_dependencies(dependencies, pins)
    over = False
    rows = []
    for name, resource in functions.items():
        print(f"building {name} ...")
        properties = resource["Properties"]
        artifact = build_function(name, ROOT / properties["CodeUri"], dependencies)
        layered = bool(properties.get("Layers"))  # the template's Globals set no layer
        check = import_check(artifact, properties["Handler"], layer_dir if layered else None)
        total = artifact.unzipped + (layer.unzipped if layered else 0)
        fits = total <= MAX_UNZIPPED and artifact.zipped <= MAX_ZIPPED
        over |= not fits or check.startswith("FAILED")
        rows.append((name, artifact, total, fits, check))

    print()
    print(
        f"{'artifact':<26} {'zipped':>10} {'unzipped':>10} {'+ layer':>10}  "
        f"limits: 50 MB zipped, {MAX_UNZIPPED / 1e6:.1f} MB unzipped with layers"
    )
    print(
        f"{layer.name:<26} {_mb(layer.zipped)} {_mb(layer.unzipped)} {'':>10}  pyarrow "
        f"{LAYER_PINS['pyarrow']} ({layer.directory.relative_to(ROOT)})"
    )
    for name, artifact, total, fits, check in rows:
        state = "fits" if fits else "OVER"
        print(
            f"{name:<26} {_mb(artifact.zipped)} {_mb(artifact.unzipped)} {_mb(total)}  "
            f"{state}, {100 * total / MAX_UNZIPPED:.0f}% of unzipped; import {check}"
        )
    shipped = sorted(_dist_name(p) for p in dependencies.glob("*.dist-info"))
    print(
        f"dependencies in each function: {', '.join(shipped)} (boto3: the runtime's; "
        f"pyarrow: the layer's; not shipped: "
        + ", ".join(f"{k}, {v}" for k, v in NOT_FOR_LAMBDA.items())
        + ")"
    )
    print(f"package: {'FAIL' if over else 'PASS'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
