"""The deploy proof of `make check-deploy`: template.yaml as a stack on moto's server, the
stream replay against it reconciled hop by hop, and least privilege proven from the calls.

While the replay runs, every AWS call is attributed to the role that makes it on AWS: each
function's own role (the event source mapping reads the stream with the consumer's role,
"Using Lambda with Kinesis"), Firehose's role for its reads and writes; then the query API
answers two GETs, the batch job (`online-retail batch`'s `run_batch_job`) cleans a slice of
the dataset with the Glue job's role, and the catalog command (`register_lake`) syncs the
partitions with the catalog policy, after a stale and an obsolete partition are planted so
that it updates and deletes one. The lake bucket's events (local_stack/lake_events.py)
take Firehose's Parquet to the partition registrar, and a file uploaded through POST
/uploads to the upload trigger, whose job run (its --source the upload's key) the batch
job then plays; the registrar registers the month the upload brought. Each call must be
allowed by that role's policies as moto's IAM holds them (the template's, resolved by
moto's CloudFormation); each action a role grants must be used by a call, or the
template's `LeastPrivilege` metadata says why.

    python -m local_stack.deploy_proof [--lines N]   prints the table and a verdict line
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ingestion.batch.dataset import verified_shipped_copy
from ingestion.batch.job import run_batch_job
from ingestion.catalog.glue import register_lake
from ingestion.lake import RAW_ZONE, Lake
from local_stack.fixtures import dataset_selection
from local_stack.iam_proof import RoleProof, prove, table
from local_stack.lake_events_proof import (
    firehose_to_registrar,
    lake_event_problems,
    upload_to_job,
)
from local_stack.replay import ReplayReport, run_replay
from local_stack.stack import LocalStack
from local_stack.template_stack import TEMPLATE, DeployedStack

# principal -> the template resource whose policies it holds
HOLDERS = {
    "ApiFunction": "ApiFunctionRole",
    "ConsumerFunction": "ConsumerFunctionRole",
    "TransformFunction": "TransformFunctionRole",
    "QueryFunction": "QueryFunctionRole",
    "PartitionRegistrarFunction": "PartitionRegistrarFunctionRole",
    "UploadTriggerFunction": "UploadTriggerFunctionRole",
    "DeliveryStream": "FirehoseRole",
    "BatchJob": "BatchJobRole",
    "CatalogCommand": "CatalogCommandPolicy",
}


PROOF_DAYS = ("2010-12-01", "2011-12-09", "2011-06-15")


@dataclass
class Proof:
    stack: DeployedStack | None = None
    replay: ReplayReport | None = None
    roles: list[RoleProof] = field(default_factory=list)
    queries: dict[str, int] = field(default_factory=dict)
    lake_events: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.roles)

    def problems(self) -> list[str]:
        out = []
        if self.replay is None or self.replay.hops.reconciles():
            out.append("replay did not reconcile")
        for role in self.roles:
            if role.denied:
                out.append(f"{role.principal}: {len(role.denied)} calls denied")
            if role.wildcard_actions:
                out.append(f"{role.principal}: wildcard actions {role.wildcard_actions}")
            if role.unexplained:
                out.append(f"{role.principal}: unused grants {role.unexplained}")
            if role.calls == 0:
                out.append(f"{role.principal}: no call recorded")
        out += [f"GET {path}: {status}" for path, status in self.queries.items() if status != 200]
        out += lake_event_problems(self.lake_events)
        return out

    def verdict(self) -> str:
        assert self.stack is not None
        denied = sum(len(r.denied) for r in self.roles)
        wildcards = sum(len(r.wildcard_actions) for r in self.roles)
        unexplained = sum(len(r.unexplained) for r in self.roles)
        reconciled = self.replay is not None and not self.replay.hops.reconciles()
        return (
            f"stack on moto: created {len(self.stack.created)} resources; replay "
            f"{'reconciled' if reconciled else 'NOT reconciled'}; IAM: {self.calls} "
            f"calls of {len(self.roles)} roles, {denied} denied, {wildcards} wildcard actions, "
            f"{unexplained} unused grants unexplained"
        )


def statements_of(arn: str) -> list[dict[str, Any]]:
    """A role's (inline and attached) or a managed policy's statements, from moto's IAM."""
    import boto3

    iam = boto3.client("iam")
    if ":policy/" in arn:
        arns, documents = [arn], []
    else:
        role = arn.rsplit("/", 1)[-1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        arns = [p["PolicyArn"] for p in attached]
    for policy_arn in arns:
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        got = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)
        documents.append(got["PolicyVersion"]["Document"])
    statements = []
    for document in documents:
        if isinstance(document, str):  # moto may hand back text: JSON, or a dict's repr
            text = unquote(document)
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                document = ast.literal_eval(text)
        listed = document["Statement"]
        statements += listed if isinstance(listed, list) else [listed]
    return statements


def explanations() -> dict[str, dict[str, str]]:
    """Per holder, the actions granted for AWS's own use (template Metadata.LeastPrivilege)."""
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(TEMPLATE.read_text())["Resources"]
    return {
        name: dict(r.get("Metadata", {}).get("LeastPrivilege", {}).get("NotCalledByTheCode", {}))
        for name, r in resources.items()
    }


def _principal_arns(stack: DeployedStack) -> dict[str, str]:
    (delivery,) = stack.of_type("AWS::KinesisFirehose::DeliveryStream").values()
    (job,) = stack.of_type("AWS::Glue::Job").values()
    arns = {f: c.role_arn for f, c in stack.functions.items()}
    arns["DeliveryStream"] = delivery["ExtendedS3DestinationConfiguration"]["RoleARN"]
    arns["BatchJob"] = job["Role"]
    arns["CatalogCommand"] = stack.outputs["CatalogCommandPolicyArn"]
    return arns


def _batch_and_catalog(stack: LocalStack, lines: list[str], proof: Proof) -> None:
    """The query API, the batch job and the catalog command, each as its role."""
    import boto3

    assert stack.deployed is not None
    first = lines[1].split(",")  # InvoiceNo, StockCode, ..., CustomerID, Country
    for resource, values in (
        ("/invoices/{invoice_no}", {"invoice_no": first[0]}),
        ("/customers/{customer_id}/invoices", {"customer_id": first[6]}),
    ):
        proof.queries[resource] = stack.get(resource, values)["statusCode"]

    # the batch job over a slice of three months, then again over two of them: the re-run
    # deletes the month its source no longer has (remove_stale_output)
    lake = Lake(stack.deployed.outputs["LakeRoot"])
    key = f"{RAW_ZONE}/deploy-proof.csv.gz"
    months = [dataset_selection(lines, day=d, count=None)[:40] for d in PROOF_DAYS]
    for picked in (months, months[:2]):
        body = "\n".join([lines[0]] + [lines[i] for month in picked for i in month]) + "\n"
        lake.write_bytes(key, gzip.compress(body.encode()))  # the landing (not the job)
        with stack.acting("BatchJob"):
            run_batch_job(key, lake)

    # a partition registered with an older column list, and one whose folder is gone
    database = stack.deployed.outputs["GlueDatabaseName"]
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=database, Name="invoice_lines")["Table"]
    storage = dict(table["StorageDescriptor"], Columns=table["StorageDescriptor"]["Columns"][:-1])
    location = storage["Location"] + "year="
    # 2010-12 stale, 1999-01 gone; 2011-12 is left for the command to create
    planted = [("2010", "12", storage), ("1999", "01", table["StorageDescriptor"])]
    glue.batch_delete_partition(  # the registrar registered 2010-12 from Firehose's objects
        DatabaseName=database,
        TableName="invoice_lines",
        PartitionsToDelete=[{"Values": [y, m]} for y, m, _ in planted],
    )
    glue.batch_create_partition(
        DatabaseName=database,
        TableName="invoice_lines",
        PartitionInputList=[
            {
                "Values": [y, m],
                "StorageDescriptor": dict(sd, Location=f"{location}year={y}/month={m}/"),
            }
            for y, m, sd in planted
        ],
    )
    with stack.acting("CatalogCommand"):
        register_lake(lake, database=database)


def run(count: int = 300, inject_bad: int = 8, say: Any = print) -> Proof:
    started = time.monotonic()
    proof = Proof()
    source = verified_shipped_copy()
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    holders = explanations()

    def inside(stack: LocalStack) -> None:
        assert stack.deployed is not None and stack.recorder is not None
        proof.stack = stack.deployed
        events, proof.lake_events = firehose_to_registrar(stack)
        _batch_and_catalog(stack, lines, proof)
        upload_to_job(stack, events, lines, proof.lake_events)
        for principal, arn in _principal_arns(stack.deployed).items():
            holder = HOLDERS[principal]
            proof.roles.append(
                prove(principal, statements_of(arn), stack.recorder.calls, holders[holder])
            )

    with tempfile.TemporaryDirectory() as folder:
        proof.replay = run_replay(
            lines,
            dataset_selection(lines, day=None, count=count),
            dataset_key=f"raw/online_retail/{source.name}",
            local_lake=Lake(folder),
            warehouse=None,
            inject_bad=inject_bad,
            say=say,
            inside=inside,
        )
    proof.seconds = time.monotonic() - started
    return proof


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300, help="dataset lines to replay")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    proof = run(args.lines)
    assert proof.replay is not None and proof.stack is not None
    if args.json:
        figures = {
            "lines": args.lines,
            "created": proof.stack.created,
            "made_by_api": proof.stack.made_by_api,
            "lint_only": proof.stack.lint_only,
            # the counts only: the line ids themselves stay out of the JSON
            "hops": {
                k: v for k, v in asdict(proof.replay.hops).items() if k != "dynamodb_line_ids"
            },
            "reconciles": proof.replay.hops.reconciles(),
            "queries": proof.queries,
            "lake_events": proof.lake_events,
            "roles": [{**asdict(r), "used": sorted(r.used)} for r in proof.roles],
            "verdict": proof.verdict(),
            "seconds": round(proof.seconds, 1),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print("\n".join(proof.replay.lines()))
    print("least privilege, from the recorded calls:")
    print("\n".join(table(proof.roles)))
    problems = proof.problems()
    print(("PASS " if not problems else "FAIL ") + proof.verdict())
    for problem in problems:
        print(f"  {problem}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
