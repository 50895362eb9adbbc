"""The lake bucket's events, delivered as S3 and EventBridge would deliver them, from the
template's configuration as the stack resolved it.

moto's CloudFormation creates the bucket without its NotificationConfiguration, and moto
would run a notified Lambda in Docker; so the runner plays the delivery instead:

- S3 event notifications: each LambdaConfiguration of the bucket (SAM adds the partition
  registrar's) whose event and prefix/suffix filter match a created object's key gets an
  S3 event, keys URL-encoded as S3 sends them
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html);
- EventBridge (EventBridgeConfiguration enabled): every created object is an "Object Created"
  event (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), matched
  against each rule moto's CloudFormation created from the template (its EventPattern, by
  moto's own matcher) and handed to the rule's Lambda targets.

A function is invoked asynchronously, as its template function (`LocalStack.as_function`):
an invocation that raises is retried MaximumRetryAttempts times (EventInvokeConfig), then
its on-failure record goes to the destination queue, sent with the function's role.

`overlapping` is S3's check of a notification configuration: two configurations for the
same event type whose prefixes and suffixes overlap are rejected
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from local_stack.events import context
from local_stack.iam_proof import ACCOUNT, REGION

Handler = Callable[[dict[str, Any], Any], Any]


def s3_event(bucket: str, key: str, size: int, configuration_id: str) -> dict[str, Any]:
    """An S3 event notification of one created object (event structure version 2.1)."""
    now = datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": f"AWS:{ACCOUNT}"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": configuration_id,
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": ACCOUNT},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "sequencer": f"{int(now.timestamp() * 1e6):018X}",
                    },
                },
            }
        ]
    }


def eventbridge_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    """The EventBridge event S3 sends for one created object (the key as it is)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "sequencer": uuid.uuid4().hex[:18].upper()},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def glue_job_state_change(job_name: str, run_id: str, state: str) -> dict[str, Any]:
    """Glue's "Glue Job State Change" event of a run ending in `state`
    (https://docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-events.html)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": {
            "jobName": job_name,
            "severity": "INFO" if state == "SUCCEEDED" else "ERROR",
            "state": state,
            "jobRunId": run_id,
            "message": f"Job run {state.lower()}",
        },
    }


def routed(event: dict[str, Any]) -> dict[str, list[str]]:
    """The target ARNs of every rule on the default bus whose pattern matches `event`, as
    moto's CloudFormation created the rules (moto's own matcher)."""
    import boto3
    from moto.events.models import EventPattern

    events = boto3.client("events")
    found = {}
    for rule in events.list_rules()["Rules"]:
        if EventPattern.load(rule.get("EventPattern")).matches_event(event):
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            found[rule["Name"]] = [t["Arn"] for t in targets]
    return found


def _filter(configuration: dict[str, Any]) -> tuple[str, str]:
    rules = configuration.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    found = {r["Name"].lower(): r["Value"] for r in rules}
    return found.get("prefix", ""), found.get("suffix", "")


def _event_matches(event_type: str, created: str = "s3:ObjectCreated:Put") -> bool:
    return event_type == created or (
        event_type.endswith(":*") and created.startswith(event_type[:-1])
    )


def _types_overlap(a: str, b: str) -> bool:
    return a == b or (a.endswith(":*") and b.startswith(a[:-1])) or _types_overlap(b, a)


def overlapping(configurations: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs (by index) of configurations S3 would reject together: an event type in
    common, and prefixes one of which starts the other, and suffixes one of which ends the
    other (an absent prefix or suffix matches every key)."""
    found = []
    for i, a in enumerate(configurations):
        for j in range(i + 1, len(configurations)):
            b = configurations[j]
            (pa, sa), (pb, sb) = _filter(a), _filter(b)
            if not _types_overlap(a["Event"], b["Event"]):
                continue
            if (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa)):
                found.append((i, j))
    return found


def lambda_configurations(notification: dict[str, Any]) -> list[dict[str, Any]]:
    """The bucket's Lambda configurations, one event type each (CloudFormation's shape)."""
    return list(notification.get("LambdaConfigurations", []))


@dataclass
class Delivered:
    """What the lake's events did: per function, the invocations and their answers."""

    s3_notifications: dict[str, int] = field(default_factory=dict)
    eventbridge_matches: dict[str, int] = field(default_factory=dict)
    unmatched: int = 0
    answers: dict[str, list[Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class LakeEvents:
    """Deliver the events of objects created in the lake bucket since the last delivery.

    `functions` maps a template function (logical id) to its handler, already wrapped as
    that function (`LocalStack.as_function`); `retries` and `destinations` come from each
    function's EventInvokeConfig."""

    def __init__(
        self,
        bucket: str,
        notification: dict[str, Any],
        functions: dict[str, Handler],
        names: dict[str, str],
        invoke_configs: dict[str, dict[str, Any]],
        acting: Callable[[str], Any],
    ) -> None:
        import boto3

        self.bucket, self.functions, self.names = bucket, functions, names
        self.invoke_configs, self.acting = invoke_configs, acting
        self.configurations = lambda_configurations(notification)
        self.eventbridge = "EventBridgeConfiguration" in notification
        self._s3, self._events = boto3.client("s3"), boto3.client("events")
        self._sqs = boto3.client("sqs")
        self.seen = self._keys()

    def _keys(self) -> dict[str, int]:
        found = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return found

    def _logical_id(self, function_arn: str) -> str:
        name = function_arn.rsplit(":", 1)[-1]
        (logical,) = (k for k, v in self.names.items() if v == name)
        return logical

    def _rules(self) -> list[tuple[str, Any, list[str]]]:
        """(name, moto's pattern, target function logical ids) of every rule on the bus."""
        from moto.events.models import EventPattern

        rules = []
        for rule in self._events.list_rules()["Rules"]:
            targets = self._events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            functions = [self._logical_id(t["Arn"]) for t in targets if ":function:" in t["Arn"]]
            pattern = EventPattern.load(rule.get("EventPattern"))
            rules.append((rule["Name"], pattern, functions))
        return rules

    def deliver(self) -> Delivered:
        """Every object created since the last call, to every consumer that matches it."""
        now = self._keys()
        created = sorted((k, size) for k, size in now.items() if k not in self.seen)
        self.seen = now
        delivered = Delivered()
        rules = self._rules() if self.eventbridge else []
        for key, size in created:
            matched = False
            for index, configuration in enumerate(self.configurations):
                prefix, suffix = _filter(configuration)
                if not (_event_matches(configuration["Event"]) and key.startswith(prefix)):
                    continue
                if not key.endswith(suffix):
                    continue
                logical = self._logical_id(configuration["Function"])
                event = s3_event(self.bucket, key, size, f"notification-{index}")
                self._invoke(logical, event, delivered)
                delivered.s3_notifications[logical] = delivered.s3_notifications.get(logical, 0) + 1
                matched = True
            event = eventbridge_event(self.bucket, key, size)
            for name, pattern, functions in rules:
                if not pattern.matches_event(event):
                    continue
                for logical in functions:
                    self._invoke(logical, event, delivered)
                delivered.eventbridge_matches[name] = delivered.eventbridge_matches.get(name, 0) + 1
                matched = True
            delivered.unmatched += not matched
        return delivered

    def _invoke(self, logical: str, event: dict[str, Any], delivered: Delivered) -> None:
        config = self.invoke_configs.get(logical, {})
        attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
        error: Exception | None = None
        for _ in range(attempts):
            try:
                answer = self.functions[logical](event, context(self.names[logical]))
            except Exception as e:  # an asynchronous invocation's error: Lambda retries it
                error = e
                continue
            delivered.answers.setdefault(logical, []).append(answer)
            return
        delivered.failures.append(f"{logical}: {type(error).__name__}: {error}")
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            queue = self._sqs.get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
            record = {
                "requestContext": {"condition": "RetriesExhausted", "functionName": logical},
                "responsePayload": {"errorMessage": str(error)},
                "requestPayload": event,
            }
            with self.acting(logical):  # Lambda sends it with the function's role
                self._sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(record))


def invoke_configs(properties: Iterable[dict[str, Any]], names: dict[str, str]) -> dict:
    """EventInvokeConfig properties by function logical id (their FunctionName is the name)."""
    by_name = {v: k for k, v in names.items()}
    return {by_name[p["FunctionName"]]: p for p in properties if p["FunctionName"] in by_name}
