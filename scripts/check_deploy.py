"""`make check-deploy`: the deployment, checked offline, with a one-line verdict.

    cfn-lint      template.yaml with the serverless rules (cfn-lint-serverless): no finding
    checkov       no failed check; each skipped one carries its reason in the template
    sam           AWS's aws-sam-translator turns the template into plain CloudFormation
    glue          the template's Glue tables equal ingestion's catalog (scripts/glue_tables.py)
    actionlint    .github/workflows/*.yml
    stack         template.yaml created as a stack on moto's server, the stream replay against
                  it reconciled hop by hop, and least privilege proven from the recorded calls
                  (local_stack/deploy_proof.py; its table is printed, its figures written to
                  build/check-deploy/proof.json)

checkov runs from .venv-tools (its pins clash with the dbt stack; see requirements-tools.in).
Exit 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PROOF_JSON = ROOT / "build" / "check-deploy" / "proof.json"
DETAILS: list[str] = []  # lines printed after the checks (the IAM table)


class Failed(Exception):
    """A check found something; the message says what, in one line."""


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def cfn_lint() -> str:
    done = _run(
        [str(BIN / "cfn-lint"), "--append-rules", "cfn_lint_serverless.rules", "--", str(TEMPLATE)]
    )
    findings = [line for line in done.stdout.splitlines() if line and line[0] in "EWI"]
    if done.returncode != 0 or findings:
        raise Failed(f"{len(findings)} findings: {'; '.join(findings[:3]) or done.stderr[-200:]}")
    return "clean with the serverless rules"


def checkov() -> str:
    if not CHECKOV.exists():
        raise Failed(f"{CHECKOV.relative_to(ROOT)} missing: run `make tools`")
    done = _run(
        [
            *[str(CHECKOV), "-f", str(TEMPLATE), "--framework", "cloudformation"],
            *["--skip-download", "--compact", "-o", "json"],
        ],
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise Failed(f"no report ({done.stderr.strip()[-200:]})") from e
    reports = report if isinstance(report, list) else [report]
    summary = {"passed": 0, "failed": 0, "skipped": 0}
    failed, skipped = [], {}
    for r in reports:
        for key in summary:
            summary[key] += r.get("summary", {}).get(key, 0)
        results = r.get("results", {})
        failed += [f"{c['check_id']} {c['resource']}" for c in results.get("failed_checks", [])]
        for c in results.get("skipped_checks", []):
            reason = (c.get("check_result") or {}).get("suppress_comment") or ""
            if not reason.strip():
                failed.append(f"{c['check_id']} {c['resource']} skipped without a reason")
            skipped.setdefault(c["check_id"], 0)
            skipped[c["check_id"]] += 1
    if failed:
        raise Failed(f"{len(failed)} failed: {'; '.join(failed[:4])}")
    ids = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(skipped.items()))
    return f"{summary['passed']} passed, {summary['skipped']} skipped with reasons ({ids})"


def sam_translate() -> str:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its feature-toggle notes
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    template, matches = decode(str(TEMPLATE))
    if matches:
        raise Failed(f"template does not parse: {matches[0]}")
    # sam build/deploy replace local CodeUri/ContentUri with S3 locations; do the same
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{name}.zip"

    class NoManagedPolicies:  # the template names no managed policy by name
        def load(self) -> dict[str, str]:
            return {}

    try:
        translated = transform(template, {}, NoManagedPolicies())
    except Exception as e:  # the translator raises its own exception types
        raise Failed(f"{type(e).__name__}: {str(e)[:200]}") from e
    resources = translated["Resources"]
    serverless = [n for n, r in resources.items() if r["Type"].startswith("AWS::Serverless")]
    if serverless:
        raise Failed(f"left untranslated: {serverless}")
    return f"translates to {len(resources)} CloudFormation resources"


def glue_tables() -> str:
    done = _run([sys.executable, str(ROOT / "scripts" / "glue_tables.py"), "--check"])
    if done.returncode != 0:
        raise Failed(done.stdout.strip() or done.stderr.strip()[-200:])
    return "equal to the catalog"


def actionlint() -> str:
    if not WORKFLOWS:
        raise Failed("no workflow in .github/workflows")
    done = _run([str(BIN / "actionlint"), "-no-color", *map(str, WORKFLOWS)])
    if done.returncode != 0:
        findings = done.stdout.strip().splitlines()
        raise Failed(f"{len(findings)} findings: {'; '.join(findings[:2])}")
    return f"{len(WORKFLOWS)} workflow(s) clean"


def stack() -> str:
    done = _run([sys.executable, "-m", "local_stack.deploy_proof", "--json", str(PROOF_JSON)])
    lines = done.stdout.strip().splitlines()
    verdict = next((line for line in reversed(lines) if line.startswith(("PASS", "FAIL"))), "")
    start = next((i for i, line in enumerate(lines) if line.startswith("least privilege")), None)
    if start is not None:
        DETAILS.extend(line for line in lines[start:] if not line.startswith(("PASS", "FAIL")))
    if done.returncode != 0 or not verdict.startswith("PASS"):
        raise Failed(verdict or (done.stderr.strip().splitlines() or ["no output"])[-1][:300])
    return verdict.removeprefix("PASS ")


CHECKS: dict[str, Callable[[], str]] = {
    "cfn-lint": cfn_lint,
    "checkov": checkov,
    "sam": sam_translate,
    "glue": glue_tables,
    "actionlint": actionlint,
    "stack": stack,
}


def _outcome(check: Callable[[], str]) -> tuple[bool, str]:
    try:
        return True, check()
    except Failed as e:
        return False, str(e)


def main() -> int:
    started = time.monotonic()
    problems = []
    # the checks are independent subprocesses (but sam): run them side by side
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = {name: pool.submit(_outcome, check) for name, check in CHECKS.items()}
        outcomes: dict[str, tuple[bool, str]] = {}
        for name, future in futures.items():
            ok, message = outcomes[name] = future.result()
            print(f"  {'ok' if ok else 'FAIL':<5} {name:<11} {message}")
            if not ok:
                problems.append(f"{name}: {message}")
    print("\n".join(DETAILS))
    seconds = time.monotonic() - started
    stack_line = next((m for n, (ok, m) in outcomes.items() if n == "stack" and ok), "")
    if problems:
        print(f"check-deploy: FAIL ({'; '.join(problems)[:300]}) [{seconds:.0f} s]")
        return 1
    print(f"check-deploy: PASS ({', '.join(CHECKS)} all clean; {stack_line}) [{seconds:.0f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
