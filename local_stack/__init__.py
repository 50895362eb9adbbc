"""The emulated AWS stack for the laptop: what moto does not do (invoking Lambdas from
Kinesis, Firehose's pipeline), Lambda events of AWS's exact shapes, and the replay that
drives the whole stream path and counts every hop. Never in the Lambda artifact.

    events.py           Lambda events (API Gateway, Kinesis, Firehose) and a context object
    kinesis_mapping.py  Lambda's Kinesis event source mapping
    firehose.py         a Kinesis-sourced Firehose delivery stream with transformation
    stack.py            moto's server, the stack's resources and the handlers wired up
    csv_bodies.py       dataset lines as CSV request bodies, sent at a rate
    fixtures.py         which lines to replay, and the bad inputs to inject
    hops.py             counting lines at every hop, and the identities between the counts
    lake_mirror.py      the S3 lake mirrored to a local folder for dbt
    dbt_build.py        dbt over a given lake and warehouse
    replay.py           the whole replay, start to reconciliation
    faults.py           fault injection: AWS-side faults (middleware), late and twice
                        delivery, a crashing consumer, failing transformations
    fault_server.py     moto's server in a process of its own, behind that middleware
    fault_scenarios.py  the faults of `make faults`, one scenario each
    fault_suite.py      `make faults`: every scenario, the batch build, the table
    fault_ledger.py     where every line ended, by identity; marts against the batch's
"""
