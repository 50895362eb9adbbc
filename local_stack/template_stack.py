"""template.yaml as a stack on moto's server, and the names the local runner takes from it.

1. AWS's SAM translator turns the template into plain CloudFormation (as `sam deploy` does).
2. moto's CloudFormation creates every resource whose type it models (S3, Kinesis, DynamoDB,
   SQS, SNS, IAM roles and managed policies, Lambda functions, layer and permissions, the
   REST API, log groups, EventBridge rules). The resources it lacks, and the few it would mishandle
   (`KEPT_OUT`), are left out of the stack: every reference to one is replaced by the name
   its own properties give it, and every intrinsic in its properties becomes a stack output,
   so moto's CloudFormation resolves them and the runner sees the properties exactly as
   CloudFormation would hand them to the service.
3. `create_from_properties` then creates those through the service's own API where moto has
   one (Glue database, tables, job; Athena workgroup; alarms; dashboard; the API's OpenAPI
   body and deployment; queue policy; asynchronous invocation configs; ...); Firehose and
   the event source mapping are played by local_stack/firehose.py and
   local_stack/kinesis_mapping.py with the same properties, the bucket's event deliveries
   by local_stack/lake_events.py from its resolved NotificationConfiguration.

Nothing here creates the bucket, stream, tables, queue or functions by hand: their names come
from the stack's Outputs (`DeployedStack.outputs`).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_RESOLVE = "ResolveForRunner"  # prefix of the outputs that carry kept-out properties

# Types moto's CloudFormation models but that stay out of the stack, and why.
KEPT_OUT = {
    "AWS::Lambda::EventSourceMapping": (
        "moto would invoke the function in Docker on every PutRecord; "
        "local_stack/kinesis_mapping.py plays the mapping with its properties"
    ),
    "AWS::ApiGateway::Deployment": (
        "moto creates the RestApi without its Body, so a deployment would have no methods; "
        "the body is imported with PutRestApi and then deployed"
    ),
    "AWS::CloudWatch::Dashboard": "moto's CloudFormation refuses its body; PutDashboard takes it",
}
# What the runner does instead for a type moto's CloudFormation lacks (or KEPT_OUT).
EMULATED = {
    "AWS::KinesisFirehose::DeliveryStream": "local_stack/firehose.py, from its properties",
    "AWS::Lambda::EventSourceMapping": "local_stack/kinesis_mapping.py, from its properties",
}
# Properties moto's CloudFormation creates a resource without, resolved for the runner all
# the same: the REST API's OpenAPI body (imported by PutRestApi), and the bucket's
# NotificationConfiguration (S3 and EventBridge deliveries, local_stack/lake_events.py).
RESOLVED_ANYWAY = {
    "AWS::ApiGateway::RestApi": "Body",
    "AWS::S3::Bucket": "NotificationConfiguration",
}
LINT_ONLY = {
    "AWS::ApiGateway::Account": "an account-wide setting moto does not model",
    "AWS::RedshiftServerless::Namespace": "moto has no Redshift Serverless",
    "AWS::RedshiftServerless::Workgroup": "moto has no Redshift Serverless",
    # moto evaluates bucket policies: its Deny on aws:SecureTransport false refuses every
    # request to moto's plain-HTTP endpoint, exactly as AWS would refuse plain HTTP.
    "AWS::S3::BucketPolicy": "TLS-only Deny; moto's endpoint is plain HTTP, so it would deny all",
}
# The property that names a resource, for the types that stay out of the stack.
_NAME_PATHS = (
    ("DeliveryStreamName",),
    ("DatabaseInput", "Name"),
    ("TableInput", "Name"),
    ("DashboardName",),
    ("AlarmName",),
    ("StageName",),
    ("LogStreamName",),
    ("NamespaceName",),
    ("WorkgroupName",),
    ("Name",),
)
_INTRINSICS = {
    "Ref",
    "Fn::Sub",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::If",
    "Fn::FindInMap",
    "Fn::Select",
    "Fn::Split",
    "Fn::Base64",
}


@dataclass
class FunctionConfig:
    """A function as moto's Lambda holds it: what the template gave it."""

    logical_id: str
    name: str
    handler: str
    role_arn: str
    memory_mb: int
    environment: dict[str, str]


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    created: dict[str, str]  # logical id -> type, made by moto's CloudFormation
    kept_out: dict[str, str]  # logical id -> type
    properties: dict[str, dict[str, Any]]  # kept-out logical id -> resolved properties
    functions: dict[str, FunctionConfig] = field(default_factory=dict)
    made_by_api: dict[str, str] = field(default_factory=dict)  # logical id -> how
    lint_only: dict[str, str] = field(default_factory=dict)  # logical id -> why

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            n: self.properties[n]
            for n, t in self.kept_out.items()
            if t == resource_type and n in self.properties
        }

    def summary(self) -> str:
        emulated = sorted({self.kept_out[n] for n in self.kept_out if self.kept_out[n] in EMULATED})
        return (
            f"created {len(self.created)} resources, {len(self.made_by_api)} more from the "
            f"template's properties through the services' APIs; emulated: "
            f"{', '.join(t.split('::')[-1] for t in emulated)}; lint only: "
            f"{', '.join(sorted(self.lint_only)) or 'none'}"
        )


def translate(parameters: dict[str, str], artifacts_bucket: str) -> dict[str, Any]:
    """The template as plain CloudFormation (AWS's SAM translator), code in `artifacts_bucket`."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse  # CloudFormation's short forms too

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    template = yaml_parse(TEMPLATE.read_text())
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):  # what `sam deploy` uploads
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://{artifacts_bucket}/{name}.zip"

    class NoManagedPolicies:  # the template names no AWS managed policy
        def load(self) -> dict[str, str]:
            return {}

    return transform(template, parameters, NoManagedPolicies())


def moto_types() -> set[str]:
    """The resource types moto's CloudFormation can create."""
    import moto.backends  # noqa: F401  (the models register themselves on import)
    from moto.cloudformation.parsing import get_model_map

    for service in ("apigateway", "awslambda", "dynamodb", "iam", "kinesis", "logs"):
        __import__(f"moto.{service}.models")
    for service in ("s3", "sns", "sqs", "cloudwatch", "glue", "athena", "firehose", "events"):
        __import__(f"moto.{service}.models")
    return set(get_model_map())


def _name_of(logical_id: str, resource: dict[str, Any], stack_name: str) -> Any:
    properties = resource.get("Properties", {})
    for path in _NAME_PATHS:
        value: Any = properties
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            return value
    return f"{stack_name}-{logical_id}"


def _attribute(stubs: dict[str, Any], types: dict[str, str], name: str, attribute: str) -> Any:
    """A kept-out resource's attribute: an alarm's ARN from its name; else a plain marker."""
    if types[name] == "AWS::CloudWatch::Alarm" and attribute == "Arn":
        alarm_arn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${N}"
        return {"Fn::Sub": [alarm_arn, {"N": copy.deepcopy(stubs[name])}]}
    return f"{name}.{attribute}"


def _rewrite(node: Any, stubs: dict[str, Any], types: dict[str, str]) -> Any:
    """Replace Ref/GetAtt/${} of kept-out resources by their names (or attributes)."""
    if isinstance(node, list):
        return [_rewrite(v, stubs, types) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in stubs:
        return copy.deepcopy(stubs[node["Ref"]])
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        if target[0] in stubs:
            return _attribute(stubs, types, target[0], target[1])
    if set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], dict(sub[1]))
        for name, stub in stubs.items():
            if "${" + name + "}" in text and name not in variables:
                variables[name] = copy.deepcopy(stub)
            for attribute in re.findall(r"\$\{" + name + r"\.(\w+)\}", text):
                variable = f"{name}{attribute}Stub"
                text = text.replace("${" + f"{name}.{attribute}" + "}", "${" + variable + "}")
                variables[variable] = _attribute(stubs, types, name, attribute)
        variables = {k: _rewrite(v, stubs, types) for k, v in variables.items()}
        return {"Fn::Sub": [text, variables] if variables else text}
    return {k: _rewrite(v, stubs, types) for k, v in node.items()}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, intrinsic) of every intrinsic in a properties tree."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in _INTRINSICS:
            return [(path, node)]
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return []


@dataclass
class StackTemplate:
    """What moto's CloudFormation takes, and what the runner resolves through it."""

    template: dict[str, Any]
    kept_out: dict[str, str]  # logical id -> type
    trees: dict[str, dict[str, Any]]  # logical id -> resource whose properties get resolved
    where: dict[str, list[tuple[tuple[Any, ...], str]]]  # logical id -> (path, output key)


def stack_template(translated: dict[str, Any], stack_name: str) -> StackTemplate:
    """The template moto's CloudFormation takes: the kept-out resources removed, references
    to them replaced by their names, their intrinsics turned into outputs."""
    template = copy.deepcopy(translated)
    resources = template["Resources"]
    supported = moto_types() - set(KEPT_OUT)
    kept_out = {n: r["Type"] for n, r in resources.items() if r["Type"] not in supported}
    stubs = {n: _name_of(n, resources[n], stack_name) for n in kept_out}
    template = _rewrite(template, stubs, kept_out)
    resources = template["Resources"]
    outputs = template.setdefault("Outputs", {})
    # the kept-out properties, and those moto creates a resource without (RESOLVED_ANYWAY)
    trees = {n: resources.pop(n) for n in kept_out}
    for name, resource in resources.items():
        wanted = RESOLVED_ANYWAY.get(resource["Type"])
        if wanted and wanted in resource.get("Properties", {}):
            trees[name] = {"Properties": {wanted: resource["Properties"][wanted]}}
            trees[name]["Condition"] = resource.get("Condition")
    where: dict[str, list[tuple[tuple[Any, ...], str]]] = {}
    for name, resource in trees.items():
        where[name] = []
        for path, intrinsic in _leaves(resource.get("Properties", {})):
            key = f"{_RESOLVE}{len(outputs)}"
            outputs[key] = {"Value": intrinsic}
            if resource.get("Condition"):
                outputs[key]["Condition"] = resource["Condition"]
            where[name].append((path, key))
        resource.setdefault("Properties", {})
    return StackTemplate(template, kept_out, trees, where)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("README", "The local runner invokes the handlers in-process.\n")
    return buffer.getvalue()


def deploy(stack_name: str, parameters: dict[str, str]) -> DeployedStack:
    """Create the stack on the endpoint of AWS_ENDPOINT_URL; its outputs and resources."""
    import boto3

    artifacts = f"{stack_name}-sam-artifacts"  # what `sam deploy --resolve-s3` makes
    translated = translate(parameters, artifacts)
    made = stack_template(translated, stack_name)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=artifacts)
    code = _placeholder_zip()
    for name, resource in translated["Resources"].items():
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            s3.put_object(Bucket=artifacts, Key=f"{name}.zip", Body=code)
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        # moto takes a body of any size (AWS: 51,200 bytes, above which sam uploads it)
        TemplateBody=json.dumps(made.template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name}: {stack['StackStatus']}")
    raw = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    created = {
        r["LogicalResourceId"]: r["ResourceType"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r.get("LogicalResourceId")
    }
    properties = {}
    for name, tree in made.trees.items():
        if not all(key in raw for _, key in made.where[name]):
            continue  # its condition is false: the resource does not exist
        resolved = copy.deepcopy(tree.get("Properties", {}))
        for path, key in made.where[name]:
            node = resolved
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = raw[key]
        properties[name] = resolved
    deployed = DeployedStack(
        name=stack_name,
        outputs={k: v for k, v in raw.items() if not k.startswith(_RESOLVE)},
        created=created,
        kept_out={n: t for n, t in made.kept_out.items() if n in properties},
        properties=properties,
    )
    lam = boto3.client("lambda")
    for name, kind in created.items():
        if kind != "AWS::Lambda::Function":
            continue
        physical = deployed.outputs[f"{name}Name"]
        c = lam.get_function_configuration(FunctionName=physical)
        deployed.functions[name] = FunctionConfig(
            logical_id=name,
            name=physical,
            handler=c["Handler"],
            role_arn=c["Role"],
            memory_mb=c["MemorySize"],
            environment=c.get("Environment", {}).get("Variables", {}),
        )
    return deployed
