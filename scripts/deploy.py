"""`make deploy`: package, `sam build`, `sam deploy` (guided the first time).

The SAM CLI is not in requirements.lock (it pins much of what the dbt stack needs newer);
without it this says how to install it and exits 2.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = (
    "the SAM CLI is not installed: `pipx install aws-sam-cli` (or AWS's installer, "
    '"Install the AWS SAM CLI" in the SAM developer guide), then run make deploy again'
)


def stack_exists(stack_name: str) -> bool:
    import boto3
    from botocore.exceptions import ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as e:
        if "does not exist" in str(e):
            return False
        raise
    return any(s["StackStatus"] != "REVIEW_IN_PROGRESS" for s in stacks)


def main() -> int:
    sam = shutil.which("sam")
    if sam is None:
        print(f"make deploy: {INSTALL}", file=sys.stderr)
        return 2
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    stack_name = config["default"]["global"]["parameters"]["stack_name"]
    steps = [
        [sys.executable, "scripts/package.py"],
        [sam, "build"],
        [sam, "deploy"] + ([] if stack_exists(stack_name) else ["--guided"]),
    ]
    for step in steps:
        print("$", " ".join(step[1:] if step[0] == sys.executable else step), flush=True)
        if subprocess.run(step, cwd=ROOT).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
