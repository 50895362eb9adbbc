"""The template's resources that moto's CloudFormation cannot create, made through the
services' own APIs on moto's server from their properties as the stack resolved them
(local_stack/template_stack.py). Firehose and the event source mapping are played by the
runner instead (local_stack/firehose.py, kinesis_mapping.py); what neither can do is named
as checked by lint only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local_stack.template_stack import EMULATED, LINT_ONLY, DeployedStack


def coerce(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Stack outputs are strings: turn each into the type the operation's input shape has."""
    shape = client.meta.service_model.operation_model(operation).input_shape

    def walk(value: Any, shape: Any) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            return {k: walk(v, shape.members[k]) for k, v in value.items() if k in shape.members}
        if kind == "list" and isinstance(value, list):
            return [walk(v, shape.member) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: walk(v, shape.value) for k, v in value.items()}
        if kind in ("integer", "long") and isinstance(value, str):
            return int(value)
        if kind in ("double", "float") and isinstance(value, str):
            return float(value)
        if kind == "boolean" and isinstance(value, str):
            return value.lower() == "true"
        if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    return walk(params, shape)


def _call(client: Any, operation: str, method: str, params: dict[str, Any]) -> Any:
    return getattr(client, method)(**coerce(client, operation, params))


def _glue_database(p: dict[str, Any], s: DeployedStack) -> str:
    _call(
        _client("glue"), "CreateDatabase", "create_database", {"DatabaseInput": p["DatabaseInput"]}
    )
    return "Glue CreateDatabase"


def _glue_table(p: dict[str, Any], s: DeployedStack) -> str:
    params = {"DatabaseName": p["DatabaseName"], "TableInput": p["TableInput"]}
    _call(_client("glue"), "CreateTable", "create_table", params)
    return "Glue CreateTable"


def _glue_security_configuration(p: dict[str, Any], s: DeployedStack) -> str:
    _call(_client("glue"), "CreateSecurityConfiguration", "create_security_configuration", p)
    return "Glue CreateSecurityConfiguration"


def _glue_job(p: dict[str, Any], s: DeployedStack) -> str:
    _call(_client("glue"), "CreateJob", "create_job", p)
    return "Glue CreateJob"


def _glue_trigger(p: dict[str, Any], s: DeployedStack) -> str:
    _call(_client("glue"), "CreateTrigger", "create_trigger", p)
    return "Glue CreateTrigger"


def _athena_workgroup(p: dict[str, Any], s: DeployedStack) -> str:
    params = {
        "Name": p["Name"],
        "Description": p.get("Description", ""),
        "Configuration": p.get("WorkGroupConfiguration", {}),
    }
    _call(_client("athena"), "CreateWorkGroup", "create_work_group", params)
    return "Athena CreateWorkGroup"


def _alarm(p: dict[str, Any], s: DeployedStack) -> str:
    # no AlarmName in the template: CloudFormation names it <stack>-<logical id>-<suffix>
    p = {"AlarmName": f"{s.name}-{p['__logical_id__']}", **p}
    _call(_client("cloudwatch"), "PutMetricAlarm", "put_metric_alarm", p)
    return "CloudWatch PutMetricAlarm"


def _dashboard(p: dict[str, Any], s: DeployedStack) -> str:
    json.loads(p["DashboardBody"])  # CloudWatch refuses a body that is not JSON
    _call(_client("cloudwatch"), "PutDashboard", "put_dashboard", p)
    return "CloudWatch PutDashboard"


def _log_stream(p: dict[str, Any], s: DeployedStack) -> str:
    params = {"logGroupName": p["LogGroupName"], "logStreamName": p["LogStreamName"]}
    _call(_client("logs"), "CreateLogStream", "create_log_stream", params)
    return "Logs CreateLogStream"


def _subscription(p: dict[str, Any], s: DeployedStack) -> str:
    params = {"TopicArn": p["TopicArn"], "Protocol": p["Protocol"], "Endpoint": p["Endpoint"]}
    _call(_client("sns"), "Subscribe", "subscribe", params)
    return "SNS Subscribe"


def _api_deployment(p: dict[str, Any], s: DeployedStack) -> str:
    """The OpenAPI body moto's CloudFormation left out, imported, then deployed to the stage
    (the translated Stage resource names it)."""
    api = _client("apigateway")
    rest_api_id = s.outputs["ApiId"]
    body = s.properties[_rest_api(s)]["Body"]
    api.put_rest_api(restApiId=rest_api_id, mode="overwrite", body=json.dumps(body).encode())
    stages = s.of_type("AWS::ApiGateway::Stage")
    (stage,) = stages.values()
    api.create_deployment(restApiId=rest_api_id, stageName=stage["StageName"])
    s.made_by_api.update({n: "created by CreateDeployment" for n in stages})
    return "API Gateway PutRestApi (OpenAPI 3 body) + CreateDeployment"


def _event_invoke_config(p: dict[str, Any], s: DeployedStack) -> str:
    params = {k: p[k] for k in ("FunctionName", "Qualifier", "MaximumRetryAttempts") if k in p}
    if "MaximumEventAgeInSeconds" in p:
        params["MaximumEventAgeInSeconds"] = p["MaximumEventAgeInSeconds"]
    if "DestinationConfig" in p:
        params["DestinationConfig"] = p["DestinationConfig"]
    _call(
        _client("lambda"),
        "PutFunctionEventInvokeConfig",
        "put_function_event_invoke_config",
        params,
    )
    return "Lambda PutFunctionEventInvokeConfig"


def _queue_policy(p: dict[str, Any], s: DeployedStack) -> str:
    for queue_url in p["Queues"]:
        attributes = {"Policy": json.dumps(p["PolicyDocument"])}
        _client("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return "SQS SetQueueAttributes (Policy)"


def _rest_api(s: DeployedStack) -> str:
    (name,) = (n for n, t in s.created.items() if t == "AWS::ApiGateway::RestApi")
    return name


MAKERS: dict[str, Callable[[dict[str, Any], DeployedStack], str]] = {
    "AWS::Glue::Database": _glue_database,
    "AWS::Glue::Table": _glue_table,
    "AWS::Glue::SecurityConfiguration": _glue_security_configuration,
    "AWS::Glue::Job": _glue_job,
    "AWS::Glue::Trigger": _glue_trigger,
    "AWS::Athena::WorkGroup": _athena_workgroup,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::Logs::LogStream": _log_stream,
    "AWS::SNS::Subscription": _subscription,
    "AWS::ApiGateway::Deployment": _api_deployment,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::SQS::QueuePolicy": _queue_policy,
}
# Made by another maker (the Stage by the deployment), in this order after the rest.
_ORDER = ["AWS::Glue::Database", "AWS::Glue::SecurityConfiguration", "AWS::Glue::Job"]


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def create_from_properties(stack: DeployedStack) -> DeployedStack:
    """Make each kept-out resource with its service's API (or say why not)."""
    names = sorted(
        stack.kept_out,
        key=lambda n: (_ORDER.index(t) if (t := stack.kept_out[n]) in _ORDER else len(_ORDER), n),
    )
    for name in names:
        kind = stack.kept_out[name]
        if kind in EMULATED or name in stack.made_by_api:
            continue
        if kind in LINT_ONLY:
            stack.lint_only[name] = LINT_ONLY[kind]
            continue
        maker = MAKERS.get(kind)
        if maker is None:
            if kind != "AWS::ApiGateway::Stage":
                stack.lint_only[name] = f"no maker for {kind}"
            continue
        try:
            properties = {**stack.properties[name], "__logical_id__": name}
            stack.made_by_api[name] = maker(properties, stack)
        except Exception as e:  # moto's own refusals: the verdict names them
            stack.lint_only[name] = f"moto refused: {type(e).__name__}: {str(e)[:120]}"
    for name, kind in stack.kept_out.items():
        if kind not in EMULATED and name not in stack.made_by_api:
            stack.lint_only.setdefault(name, "not created (its deployment failed)")
    return stack
