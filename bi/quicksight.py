"""QuickSight: the data sources, data sets and dashboard over the Athena or Redshift marts.

The definitions live in bi/quicksight/*.json as the API's own request bodies, with
${Placeholder} strings for what differs per account (account, region, work group, host,
the Secrets Manager secret holding Redshift's credentials). This module fills them in,
validates every request against botocore's QuickSight model (required members, types,
lengths, enums and patterns), and deploys them: create, or update when they exist.

QuickSight builds data sources and dashboards asynchronously: `deploy` polls each one's
Describe call until *_SUCCESSFUL (stopping with QuickSight's errors on *_FAILED), then
publishes the dashboard version it made. Access: the users or groups of
QUICKSIGHT_PRINCIPAL_ARNS.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.errors import OnlineRetailError, reaching_aws

DEFINITIONS_DIR = Path(__file__).parent / "quicksight"
ENGINES = ("athena", "redshift")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
PRINCIPALS_SETTING = "QUICKSIGHT_PRINCIPAL_ARNS"
# A QuickSight user or group: arn:aws:quicksight:<identity region>:<account>:user|group/
# <namespace>/<name>. Permissions take these, not IAM ARNs or account roots:
# https://docs.aws.amazon.com/quicksight/latest/APIReference/API_ResourcePermission.html
PRINCIPAL_ARN = re.compile(
    r"arn:aws[a-z-]*:quicksight:[a-z0-9-]+:(?P<account>\d{12}):(?:user|group)/[^/\s]+/[^\s]+"
)


@dataclass(frozen=True)
class Request:
    """One API call: botocore's operation name and its parameters."""

    operation: str  # e.g. "CreateDataSet"
    params: dict[str, Any]

    @property
    def resource_id(self) -> str:
        for key in ("DataSourceId", "DataSetId", "DashboardId"):
            if key in self.params:
                return self.params[key]
        raise OnlineRetailError(f"{self.operation}: no resource id")


@dataclass(frozen=True)
class Settings:
    """What differs per AWS account: read from the environment, as dbt's targets are."""

    account_id: str
    region: str
    engine: str = "athena"
    athena_work_group: str = "primary"
    athena_schema: str = "online_retail"
    redshift_host: str | None = None
    redshift_port: int = 5439
    redshift_database: str = "dev"
    redshift_schema: str = "online_retail"
    redshift_secret_arn: str | None = None
    principal_arns: tuple[str, ...] = ()  # QuickSight users or groups given access
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, engine: str, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        account = env.get("QUICKSIGHT_ACCOUNT_ID") or env.get("AWS_ACCOUNT_ID")
        if not account:
            raise OnlineRetailError(
                "QuickSight needs the AWS account it runs in", setting="QUICKSIGHT_ACCOUNT_ID"
            )
        return cls(
            account_id=account,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-2",
            engine=engine,
            athena_work_group=env.get("ATHENA_WORK_GROUP", "primary"),
            athena_schema=env.get("ATHENA_SCHEMA", "online_retail"),
            redshift_host=env.get("REDSHIFT_HOST"),
            redshift_port=int(env.get("REDSHIFT_PORT", "5439")),
            redshift_database=env.get("REDSHIFT_DATABASE", "dev"),
            redshift_schema=env.get("REDSHIFT_SCHEMA", "online_retail"),
            redshift_secret_arn=env.get("QUICKSIGHT_REDSHIFT_SECRET_ARN"),
            principal_arns=tuple(
                arn.strip() for arn in env.get(PRINCIPALS_SETTING, "").split(",") if arn.strip()
            ),
        )

    def data_source_arn(self) -> str:
        return (
            f"arn:aws:quicksight:{self.region}:{self.account_id}:"
            f"datasource/online-retail-{self.engine}"
        )

    def values(self) -> dict[str, Any]:
        """Placeholder values; None removes the key that holds the placeholder."""
        athena = self.engine == "athena"
        return {
            "AwsAccountId": self.account_id,
            "Region": self.region,
            "Engine": self.engine,
            "DataSourceArn": self.data_source_arn(),
            # Athena names a table catalog.schema.table; Redshift's database is the data
            # source's, so its tables carry no catalog.
            "Catalog": "AwsDataCatalog" if athena else None,
            "Schema": self.athena_schema if athena else self.redshift_schema,
            "AthenaWorkGroup": self.athena_work_group,
            "RedshiftHost": self.redshift_host,
            "RedshiftPort": self.redshift_port,
            "RedshiftDatabase": self.redshift_database,
            "RedshiftSecretArn": self.redshift_secret_arn,
            **self.extra,
        }


_MISSING = object()


def fill(template: Any, values: Mapping[str, Any], where: str = "") -> Any:
    """Replace ${Name} placeholders in a parsed JSON template. A string that is exactly one
    placeholder takes the value's type (a port stays a number); a None value drops the key."""
    if isinstance(template, dict):
        filled = {}
        for key, item in template.items():
            value = fill(item, values, f"{where}.{key}")
            if value is not _MISSING:
                filled[key] = value
        return filled
    if isinstance(template, list):
        return [fill(item, values, f"{where}[{i}]") for i, item in enumerate(template)]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template)
    if whole:
        if whole[1] not in values:
            raise OnlineRetailError(f"{where}: unknown placeholder {template}")
        value = values[whole[1]]
        return _MISSING if value is None else value

    def one(match: re.Match[str]) -> str:
        value = values.get(match[1])
        if value is None:
            raise OnlineRetailError(f"{where}: no value for {match[0]}")
        return str(value)

    return PLACEHOLDER.sub(one, template)


def _load(name: str, definitions: Path) -> Any:
    return json.loads((definitions / name).read_text("utf-8"))


def build_requests(settings: Settings, definitions: Path = DEFINITIONS_DIR) -> list[Request]:
    """The create requests for one engine, in dependency order: source, sets, dashboard."""
    if settings.engine not in ENGINES:
        raise OnlineRetailError(f"engine must be one of {ENGINES}, not {settings.engine!r}")
    if settings.engine == "redshift":
        missing = [
            name
            for name, value in (
                ("REDSHIFT_HOST", settings.redshift_host),
                ("QUICKSIGHT_REDSHIFT_SECRET_ARN", settings.redshift_secret_arn),
            )
            if not value
        ]
        if missing:
            raise OnlineRetailError(
                "QuickSight's Redshift data source needs its host and secret",
                setting=", ".join(missing),
            )
    _check_principals(settings)
    values = settings.values()
    templates = [
        ("CreateDataSource", _load(f"data_source_{settings.engine}.json", definitions)),
        *(("CreateDataSet", data_set) for data_set in _load("data_sets.json", definitions)),
        ("CreateDashboard", _load("dashboard.json", definitions)),
    ]
    requests = []
    for operation, template in templates:
        template = _grant(template, settings.principal_arns)
        requests.append(Request(operation, fill(template, values, operation)))
    return requests


def _check_principals(settings: Settings) -> None:
    if not settings.principal_arns:
        raise OnlineRetailError(
            "QuickSight shares the data sources, data sets and dashboard with QuickSight "
            "users or groups: give their ARNs, comma separated",
            setting=PRINCIPALS_SETTING,
        )
    for arn in settings.principal_arns:
        match = PRINCIPAL_ARN.fullmatch(arn)
        if match is None or match["account"] != settings.account_id:
            raise OnlineRetailError(
                f"{arn} is not a QuickSight user or group of account {settings.account_id} "
                f"(arn:aws:quicksight:<region>:{settings.account_id}:user|group/<namespace>/<name>)",
                setting=PRINCIPALS_SETTING,
            )


def _grant(template: dict[str, Any], principals: tuple[str, ...]) -> dict[str, Any]:
    """The template's permissions (written for ${PrincipalArn}) for every principal."""
    if "Permissions" not in template:
        return template
    granted = [{**p, "Principal": arn} for p in template["Permissions"] for arn in principals]
    return {**template, "Permissions": granted}


def update_request(request: Request, service_model: Any) -> Request:
    """The Update... call for a Create... call: the members the update operation accepts
    (permissions and tags are separate calls in QuickSight's API)."""
    operation = request.operation.replace("Create", "Update", 1)
    members = service_model.operation_model(operation).input_shape.members
    return Request(operation, {k: v for k, v in request.params.items() if k in members})


def _model_errors(shape: Any, value: Any, path: str) -> Iterator[str]:
    """What botocore's ParamValidator does not check: enums, patterns and maximum lengths."""
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                yield from _model_errors(shape.members[key], item, f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path}: {len(value)} items, at most {meta['max']}"
        for i, item in enumerate(value):
            yield from _model_errors(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _model_errors(shape.key, key, f"{path} key")
            yield from _model_errors(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of {shape.enum}"
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            yield f"{path}: {value!r} does not match {meta['pattern']!r}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path}: longer than {meta['max']}"


def validate(request: Request, service_model: Any) -> None:
    """Raise OnlineRetailError unless the request is valid for botocore's QuickSight model."""
    from botocore.validate import ParamValidator

    shape = service_model.operation_model(request.operation).input_shape
    report = ParamValidator().validate(request.params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    errors += list(_model_errors(shape, request.params, request.operation))
    if errors:
        raise OnlineRetailError(f"{request.operation} {request.resource_id}:\n" + "\n".join(errors))


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@dataclass(frozen=True)
class Waiting:
    """How `deploy` waits for QuickSight's asynchronous creates and updates."""

    interval: float = 3.0  # seconds between two Describe calls
    timeout: float = 600.0  # per resource
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


_DONE = {"CREATION_SUCCESSFUL", "UPDATE_SUCCESSFUL", "COMPLETED"}  # COMPLETED: an ingestion
_FAILED = {"CREATION_FAILED", "UPDATE_FAILED", "DELETED", "FAILED", "CANCELLED"}


def _wait(what: str, describe: Callable[[], tuple[str, Any]], waiting: Waiting) -> None:
    """Poll `describe` (-> status, errors) until the resource is built; raise with
    QuickSight's errors on failure, or when it is still in progress at the timeout. The
    create or update call's own status is not trusted: it is *_IN_PROGRESS on AWS."""
    deadline = waiting.clock() + waiting.timeout
    while True:
        status, errors = describe()
        if status in _DONE:
            return
        if status in _FAILED:
            raise OnlineRetailError(f"QuickSight {what}: {status}: {json.dumps(errors)}")
        if waiting.clock() >= deadline:
            raise OnlineRetailError(
                f"QuickSight {what}: still {status} after {waiting.timeout:g} s",
                setting="QUICKSIGHT_WAIT_SECONDS",
            )
        waiting.sleep(waiting.interval)


def _settle(client: Any, request: Request, response: dict[str, Any], waiting: Waiting) -> list:
    """Wait until what `request` made is built, then publish a dashboard's version."""
    account, resource = request.params["AwsAccountId"], request.resource_id
    what = f"{request.operation} {resource}"
    if "DataSource" in request.operation:
        # https://docs.aws.amazon.com/quicksight/latest/APIReference/API_DescribeDataSource.html
        def source() -> tuple[str, Any]:
            found = client.describe_data_source(AwsAccountId=account, DataSourceId=resource)
            return found["DataSource"].get("Status", ""), found["DataSource"].get("ErrorInfo")

        _wait(what, source, waiting)
        return []
    if "DataSet" in request.operation:
        if not response.get("IngestionId"):  # DIRECT_QUERY: no SPICE import to wait for
            return []

        def ingestion() -> tuple[str, Any]:
            found = client.describe_ingestion(
                AwsAccountId=account, DataSetId=resource, IngestionId=response["IngestionId"]
            )["Ingestion"]
            return found.get("IngestionStatus", ""), found.get("ErrorInfo")

        _wait(f"{what} (SPICE ingestion)", ingestion, waiting)
        return []
    # A dashboard: an update makes a new version it does not publish:
    # https://docs.aws.amazon.com/quicksight/latest/APIReference/API_UpdateDashboard.html
    version_arn = response["VersionArn"]  # arn:...:dashboard/<id>/version/<n>
    number = int(version_arn.rsplit("/", 1)[1])

    def version() -> tuple[str, Any]:
        found = client.describe_dashboard(
            AwsAccountId=account, DashboardId=resource, VersionNumber=number
        )["Dashboard"]["Version"]
        return found.get("Status", ""), found.get("Errors")

    _wait(f"{what} version {number}", version, waiting)
    client.update_dashboard_published_version(
        AwsAccountId=account, DashboardId=resource, VersionNumber=number
    )
    return [("UpdateDashboardPublishedVersion", version_arn)]


def deploy(
    client: Any, requests: list[Request], waiting: Waiting | None = None
) -> list[tuple[str, str]]:
    """Create each resource, or update it when it exists, wait until QuickSight has built
    it (a data set needs its data source built; a dashboard version is published once
    built); returns (operation, arn) pairs. Every request is validated first, so nothing
    is half deployed by a bad definition."""
    waiting = waiting or Waiting()
    model = client.meta.service_model
    for request in requests:
        validate(request, model)
        validate(update_request(request, model), model)
    done = []
    for request in requests:
        try:
            response = getattr(client, _snake(request.operation))(**request.params)
        except client.exceptions.ResourceExistsException:
            request = update_request(request, model)
            response = getattr(client, _snake(request.operation))(**request.params)
        done.append((request.operation, response.get("Arn", "")))
        done += _settle(client, request, response, waiting)
    return done


# Stand-ins for `validate` when the environment has no account: the shapes are what count.
EXAMPLE_ENV = {
    "QUICKSIGHT_ACCOUNT_ID": "123456789012",
    "REDSHIFT_HOST": "example.eu-west-2.redshift-serverless.amazonaws.com",
    "QUICKSIGHT_REDSHIFT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:x",
    "QUICKSIGHT_PRINCIPAL_ARNS": "arn:aws:quicksight:us-east-1:123456789012:group/default/bi",
}


def validate_all(engine: str, env: Mapping[str, str] | None = None) -> list[Request]:
    """Build every request of one engine and validate it, and its update, offline."""
    import botocore.session

    env = {**EXAMPLE_ENV, **(os.environ if env is None else env)}
    model = botocore.session.get_session().get_service_model("quicksight")
    requests = build_requests(Settings.from_env(engine, env))
    for request in requests:
        validate(request, model)
        validate(update_request(request, model), model)
    return requests


def deploy_from_env(engine: str) -> list[tuple[str, str]]:
    """`online-retail quicksight deploy`: settings from the environment, boto3's session."""
    import boto3

    settings = Settings.from_env(engine)
    client = boto3.client("quicksight", region_name=settings.region)
    try:
        waiting = Waiting(timeout=float(os.environ.get("QUICKSIGHT_WAIT_SECONDS", "600")))
    except ValueError as error:
        raise OnlineRetailError(f"{error}", setting="QUICKSIGHT_WAIT_SECONDS") from error
    requests = build_requests(settings)
    with reaching_aws("QuickSight"):
        return deploy(client, requests, waiting)
