"""The policy evaluator of the IAM proof says no where IAM says no: these cases are AWS's
documented evaluation ("Policy evaluation logic": explicit deny wins, otherwise an allow
must match action, resource and condition, otherwise implicit deny)."""

from __future__ import annotations

from local_stack.iam_proof import Call, Need, evaluate, prove

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/lines"
BUCKET = "arn:aws:s3:::lake"
STATEMENTS = [
    {"Effect": "Allow", "Action": "kinesis:PutRecords", "Resource": STREAM},
    {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{BUCKET}/raw/*"]},
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"StringLike": {"s3:prefix": "transformed/*"}},
    },
    {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"{BUCKET}/raw/secret/*"},
]


def test_an_allow_must_match_action_and_resource() -> None:
    assert evaluate(STATEMENTS, Need("kinesis:PutRecords", STREAM)) is STATEMENTS[0]
    assert evaluate(STATEMENTS, Need("KINESIS:putrecords", STREAM)) is STATEMENTS[0]  # actions
    assert evaluate(STATEMENTS, Need("kinesis:PutRecord", STREAM)) is None
    assert evaluate(STATEMENTS, Need("kinesis:PutRecords", STREAM + "-2")) is None
    assert evaluate(STATEMENTS, Need("s3:PutObject", f"{BUCKET}/raw/a/b.csv")) is STATEMENTS[1]
    assert evaluate(STATEMENTS, Need("s3:PutObject", f"{BUCKET}/quarantine/x")) is None


def test_an_explicit_deny_wins() -> None:
    assert evaluate(STATEMENTS, Need("s3:PutObject", f"{BUCKET}/raw/secret/x")) is None


def test_a_condition_must_hold_and_an_unknown_key_fails_closed() -> None:
    listing = STATEMENTS[2]
    prefix = (("s3:prefix", "transformed/online_retail/"),)
    assert evaluate(STATEMENTS, Need("s3:ListBucket", BUCKET, prefix)) is listing
    assert evaluate(STATEMENTS, Need("s3:ListBucket", BUCKET, (("s3:prefix", "raw/"),))) is None
    assert evaluate(STATEMENTS, Need("s3:ListBucket", BUCKET)) is None


def test_the_proof_counts_denials_unused_and_unexplained_grants() -> None:
    calls = [
        Call("Api", "kinesis", "PutRecords", [Need("kinesis:PutRecords", STREAM)]),
        Call("Api", "s3", "PutObject", [Need("s3:PutObject", f"{BUCKET}/quarantine/x")]),
        Call("Other", "kinesis", "PutRecords", [Need("kinesis:PutRecords", STREAM)]),
    ]
    proof = prove("Api", STATEMENTS, calls, {"s3:ListBucket": "listed by the service"})
    assert proof.calls == 2
    assert proof.denied == [f"PutObject: s3:PutObject on {BUCKET}/quarantine/x"]
    assert proof.used == {"kinesis:PutRecords"}
    assert proof.explained == {"s3:ListBucket": "listed by the service"}
    assert proof.unexplained == ["s3:PutObject"]
    wild = prove("Api", [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}], [], {})
    assert wild.wildcard_actions == ["s3:*"]
