"""Least privilege, proven from the code's own calls.

`CallRecorder` sits in front of moto's server (a WSGI middleware), so it sees every request
of every client in the process, boto3's and pyarrow's S3 filesystem alike. The runner says
who is acting (`acting("ApiFunction")` around a handler, the event source mapping and
Firehose around their own reads and writes, the batch job and the catalog command around
theirs); each request made meanwhile becomes a `Call` of that principal: the IAM actions
AWS authorises it as, each with the resource ARN and the condition keys it carries.

`evaluate` is IAM's evaluation for one identity policy set, as AWS documents it ("Policy
evaluation logic"): an explicit Deny wins, else an Allow whose Action and Resource match
(`*` and `?` wildcards, case-insensitive actions) and whose Condition holds, else the
implicit deny. Conditions: StringEquals/StringLike (and their Not forms) on the keys a call
carries (s3:prefix); a condition on any other key does not hold, so such a statement
allows nothing here (fail closed) unless the action is listed as granted for service use.
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's defaults


@dataclass(frozen=True)
class Need:
    """One IAM authorisation a request needs."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass
class Call:
    principal: str
    service: str
    operation: str
    needs: list[Need]


def _s3_needs(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple:
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method == "GET" and "location" in query:
            return "GetBucketLocation", [Need("s3:GetBucketLocation", bucket_arn)]
        if method in ("GET", "HEAD") and "uploads" not in query:
            prefix = query.get("prefix", [""])[0]
            op = "HeadBucket" if method == "HEAD" else "ListObjectsV2"
            return op, [Need("s3:ListBucket", bucket_arn, (("s3:prefix", prefix),))]
        if method == "POST" and "delete" in query:
            keys = re.findall(rb"<Key>(.*?)</Key>", body)
            needs = [Need("s3:DeleteObject", f"{bucket_arn}/{k.decode()}") for k in keys]
            return "DeleteObjects", needs
        if method == "PUT":
            return "CreateBucket", [Need("s3:CreateBucket", bucket_arn)]
        return f"{method} bucket", [Need(f"s3:{method}Bucket", bucket_arn)]
    object_arn = f"{bucket_arn}/{key}"
    if method in ("GET", "HEAD"):
        return ("GetObject" if method == "GET" else "HeadObject"), [
            Need("s3:GetObject", object_arn)
        ]
    if method == "PUT":
        op = "UploadPart" if "partNumber" in query else "PutObject"
        return op, [Need("s3:PutObject", object_arn)]
    if method == "POST":
        op = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
        return op, [Need("s3:PutObject", object_arn)]
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload", [Need("s3:AbortMultipartUpload", object_arn)]
        return "DeleteObject", [Need("s3:DeleteObject", object_arn)]
    return f"{method} object", [Need(f"s3:{method}Object", object_arn)]


def _stream_arn(params: dict[str, Any]) -> str:
    if params.get("StreamARN"):
        return params["StreamARN"]
    name = params.get("StreamName")
    if name is None and "ShardIterator" in params:  # moto's iterator: base64 "stream:shard:seq"
        from moto.kinesis.utils import decompose_shard_iterator

        name = decompose_shard_iterator(params["ShardIterator"])[0]
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def _table_arns(params: dict[str, Any]) -> list[str]:
    names = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
    for item in params.get("TransactItems", []):
        names += [v["TableName"] for v in item.values()]
    suffix = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{n}{suffix}" for n in names]


def _glue_arns(params: dict[str, Any]) -> list[str]:
    """Glue authorises a call on the catalog, the database and the table it names, and a
    job run on the job ("Specifying AWS Glue resource ARNs")."""
    base = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    if params.get("JobName"):
        return [f"{base}:job/{params['JobName']}"]
    database = params.get("DatabaseName") or (params.get("DatabaseInput") or {}).get("Name")
    table = params.get("TableName") or (params.get("TableInput") or {}).get("Name")
    arns = [f"{base}:catalog"]
    if database:
        arns.append(f"{base}:database/{database}")
    if database and table:
        arns.append(f"{base}:table/{database}/{table}")
    return arns


def _json_needs(service: str, operation: str, params: dict[str, Any]) -> list[Need]:
    action = f"{service}:{operation}"
    if service == "kinesis":
        return [Need(action, _stream_arn(params))]
    if service == "dynamodb":
        return [Need(action, arn) for arn in _table_arns(params)]
    if service == "sqs":
        queue = params.get("QueueUrl", "").rstrip("/").rsplit("/", 1)[-1]
        return [Need(action, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")]
    if service == "glue":
        return [Need(action, arn) for arn in _glue_arns(params)]
    return [Need(action, "*")]


class CallRecorder:
    """WSGI middleware: every request made while a principal acts becomes a Call."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[Call] = []
        self._acting: list[str] = []
        self._lock = threading.Lock()

    @contextmanager
    def acting(self, principal: str) -> Iterator[None]:
        self._acting.append(principal)
        try:
            yield
        finally:
            self._acting.pop()

    @property
    def principal(self) -> str | None:
        return self._acting[-1] if self._acting else None

    def record(self, call: Call) -> None:
        """A call the runner makes in-process for a service (Firehose invoking its
        transformation Lambda), which therefore never reaches the server."""
        with self._lock:
            self.calls.append(call)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        principal = self._acting[-1] if self._acting else None
        if principal is not None:
            body = b""
            length = int(environ.get("CONTENT_LENGTH") or 0)
            # read (and put back) only the bodies that name resources: JSON APIs and
            # S3's DeleteObjects; an upload's body, maybe chunked, is left alone
            wanted = environ.get("HTTP_X_AMZ_TARGET") or "delete" in environ.get("QUERY_STRING", "")
            if length and wanted:
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
            call = self._call(principal, environ, body)
            with self._lock:
                self.calls.append(call)
        return self.app(environ, start_response)

    def _call(self, principal: str, environ: dict[str, Any], body: bytes) -> Call:
        scope = re.search(
            r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", "")
        )
        service = scope.group(1) if scope else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET")
        if service == "s3":
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            operation, needs = _s3_needs(
                environ["REQUEST_METHOD"], environ["PATH_INFO"], query, body
            )
            return Call(principal, service, operation, needs)
        if target:
            operation = target.rsplit(".", 1)[-1]
            params = json.loads(body or b"{}")
            return Call(principal, service, operation, _json_needs(service, operation, params))
        query = parse_qs(body.decode(errors="replace")) if body else {}
        operation = (query.get("Action") or ["unknown"])[0]
        return Call(principal, service, operation, [Need(f"{service}:{operation}", "*")])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key not in context:
                return False  # a key the call does not carry: fail closed
            value = context[key]
            like = operator in ("StringLike", "StringNotLike")
            hit = any(
                _matches(w, value, case=True) if like else w == value for w in _listed(wanted)
            )
            if operator in ("StringEquals", "StringLike") and not hit:
                return False
            if operator in ("StringNotEquals", "StringNotLike") and hit:
                return False
            if operator not in ("StringEquals", "StringLike", "StringNotEquals", "StringNotLike"):
                return False
    return True


def _applies(statement: dict[str, Any], need: Need) -> bool:
    if "Action" in statement:
        if not any(_matches(a, need.action, case=False) for a in _listed(statement["Action"])):
            return False
    elif any(_matches(a, need.action, case=False) for a in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_matches(r, need.resource, case=True) for r in _listed(statement["Resource"])):
            return False
    elif any(_matches(r, need.resource, case=True) for r in _listed(statement["NotResource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), dict(need.context))


def evaluate(statements: list[dict[str, Any]], need: Need) -> dict[str, Any] | None:
    """The Allow statement that grants `need`, or None (explicit or implicit deny)."""
    applying = [s for s in statements if _applies(s, need)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return None
    return next((s for s in applying if s.get("Effect") == "Allow"), None)


@dataclass
class RoleProof:
    principal: str
    calls: int = 0
    denied: list[str] = field(default_factory=list)
    wildcard_actions: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    explained: dict[str, str] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)


def prove(
    principal: str,
    statements: list[dict[str, Any]],
    calls: list[Call],
    explained: dict[str, str],
) -> RoleProof:
    """Each call of `principal` allowed, each granted action used or explained."""
    proof = RoleProof(principal)
    granted = {
        a for s in statements if s.get("Effect") == "Allow" for a in _listed(s.get("Action", []))
    }
    proof.wildcard_actions = sorted(a for a in granted if "*" in a or "?" in a)
    for call in calls:
        if call.principal != principal:
            continue
        proof.calls += 1
        for need in call.needs:
            statement = evaluate(statements, need)
            if statement is None:
                proof.denied.append(f"{call.operation}: {need.action} on {need.resource}")
            else:
                proof.used |= {
                    a for a in _listed(statement["Action"]) if _matches(a, need.action, case=False)
                }
    proof.explained = {a: why for a, why in explained.items() if a in granted - proof.used}
    proof.unexplained = sorted(granted - proof.used - set(explained))
    return proof


def table(proofs: list[RoleProof]) -> list[str]:
    """The proof as a table: one row per role."""
    out = [
        f"  {'role of':<26} {'calls':>6} {'denied':>6} {'used':>5} "
        f"{'explained':>9} {'unexplained':>11}  wildcard actions"
    ]
    for p in proofs:
        out.append(
            f"  {p.principal:<26} {p.calls:>6} {len(p.denied):>6} {len(p.used):>5} "
            f"{len(p.explained):>9} {len(p.unexplained):>11}  {len(p.wildcard_actions)}"
        )
        out += [f"      denied: {d}" for d in sorted(set(p.denied))[:5]]
        out += [f"      unused, unexplained: {a}" for a in p.unexplained]
    return out
