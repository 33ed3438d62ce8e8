import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

from chute_core.aws import open_clients
from chute_core.due import DUE_INDEX
from chute_core.job_store import TENANT_INDEX, JobStore
from chute_core.jobs import new_job_id
from chute_ops.bootstrap import bootstrap
from chute_ops.bootstrap_table import LEGACY_TENANT_INDEX
from tests.support.processes import run_chute
from tests.support.stack import Stack


def snapshot(stack: Stack) -> dict[str, Any]:
    p = stack.pipeline
    s3, sns, sqs, ddb = (stack.client(s) for s in ("s3", "sns", "sqs", "dynamodb"))
    topic_arn = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + p.topic)
    )

    def clean(response: dict[str, Any]) -> dict[str, Any]:
        response.pop("ResponseMetadata", None)
        return response

    table = ddb.describe_table(TableName=p.table)["Table"]
    return {
        "encryption": clean(s3.get_bucket_encryption(Bucket=p.bucket)),
        "public_access": clean(s3.get_public_access_block(Bucket=p.bucket)),
        "lifecycle": clean(s3.get_bucket_lifecycle_configuration(Bucket=p.bucket)),
        "notification": clean(s3.get_bucket_notification_configuration(Bucket=p.bucket)),
        "topic": sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"],
        "subscriptions": sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"],
        "queues": [
            sqs.get_queue_attributes(QueueUrl=stack.queue_url(q), AttributeNames=["All"])[
                "Attributes"
            ]
            for q in (p.queue, p.dlq_name)
        ],
        "table": {
            k: table[k] for k in ("KeySchema", "GlobalSecondaryIndexes", "BillingModeSummary")
        },
        "ttl": ddb.describe_time_to_live(TableName=p.table)["TimeToLiveDescription"],
    }


def test_bootstrap_configures_every_resource_as_designed(stack: Stack) -> None:
    snap = snapshot(stack)
    p = stack.pipeline
    main_queue, dlq = snap["queues"]
    redrive = json.loads(main_queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == p.max_receive_count
    assert p.dlq_name == f"{p.queue}-dlq"
    assert main_queue["VisibilityTimeout"] == str(p.visibility_timeout_seconds)
    (sub,) = snap["subscriptions"]
    assert sub["Protocol"] == "sqs"
    assert sub["Endpoint"] == main_queue["QueueArn"]
    (topic_config,) = snap["notification"]["TopicConfigurations"]
    assert topic_config["Events"] == ["s3:ObjectCreated:*"]
    rules = topic_config["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", "incoming/")]
    assert all(snap["public_access"]["PublicAccessBlockConfiguration"].values())
    aborts, tails = snap["lifecycle"]["Rules"]
    assert aborts["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert tails["Filter"]["Prefix"] == p.partial_prefix
    assert tails["Expiration"] == {"Days": 2}
    assert snap["table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: i for i in snap["table"]["GlobalSecondaryIndexes"]}
    keys = {name: [k["AttributeName"] for k in i["KeySchema"]] for name, i in indexes.items()}
    assert keys == {
        TENANT_INDEX: ["tenant_shard", "created_at"],
        DUE_INDEX: ["due_shard", "due_at"],
    }
    assert indexes[DUE_INDEX]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["state", "updated_at", "lease_expires_at"],
    }
    assert snap["ttl"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert json.loads(snap["topic"]["Policy"])["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:s3:::{p.bucket}"
    }


def test_second_bootstrap_changes_nothing_and_says_so(stack: Stack) -> None:
    before = snapshot(stack)
    assert bootstrap(stack.aws, stack.pipeline) == []
    result = run_chute("bootstrap", env=stack.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no changes: everything is in place"
    assert snapshot(stack) == before


def test_bootstrap_repairs_drifted_queue_attributes(stack: Stack) -> None:
    sqs = stack.client("sqs")
    sqs.set_queue_attributes(QueueUrl=stack.queue_url(), Attributes={"VisibilityTimeout": "7"})
    (change,) = bootstrap(stack.aws, stack.pipeline)
    assert change.resource.startswith(f"queue {stack.pipeline.queue} attributes ")
    assert "VisibilityTimeout" in change.resource
    attrs = sqs.get_queue_attributes(QueueUrl=stack.queue_url(), AttributeNames=["All"])
    assert attrs["Attributes"]["VisibilityTimeout"] == str(
        stack.pipeline.visibility_timeout_seconds
    )
    assert bootstrap(stack.aws, stack.pipeline) == []


def test_bootstrap_adds_the_due_index_to_a_table_from_before_the_reconciler(
    stack: Stack,
) -> None:
    ddb = stack.client("dynamodb")
    ddb.update_table(
        TableName=stack.pipeline.table,
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": DUE_INDEX}}],
    )
    (change,) = bootstrap(stack.aws, stack.pipeline)
    assert (change.resource, change.action) == (
        f"table {stack.pipeline.table} index {DUE_INDEX}",
        "created",
    )
    table = ddb.describe_table(TableName=stack.pipeline.table)["Table"]
    assert DUE_INDEX in {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    assert bootstrap(stack.aws, stack.pipeline) == []


def test_bad_setting_stops_the_cli_with_one_line_naming_it() -> None:
    result = run_chute("bootstrap", env={"CHUTE_MAX_RECEIVE_COUNT": "lots"})
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("chute: error: CHUTE_MAX_RECEIVE_COUNT: ")


def test_bootstrap_moves_a_table_from_before_the_sharded_tenant_index(stack: Stack) -> None:
    """The old shape: the unsharded tenant index and records without their shard. After
    bootstrap: the sharded index, every job record listed, the old index gone."""
    ddb, table = stack.client("dynamodb"), stack.pipeline.table
    ddb.update_table(
        TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": TENANT_INDEX}}]
    )
    ddb.update_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexUpdates=[{"Create": _LEGACY_INDEX}],
    )
    old = [new_job_id() for _ in range(5)]
    for n, job_id in enumerate(old):
        ddb.put_item(TableName=table, Item=_old_record(job_id, f"2026-11-01T00:00:0{n}.000000Z"))
    changes = [str(c) for c in bootstrap(stack.aws, stack.pipeline)]
    assert changes == [
        f"created table {table} index {TENANT_INDEX}",
        f"updated table {table}: 5 records given their tenant shard",
        f"deleted table {table} index {LEGACY_TENANT_INDEX} (unsharded)",
    ]
    indexes = {
        i["IndexName"]
        for i in ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    }
    assert indexes == {TENANT_INDEX, DUE_INDEX}
    assert asyncio.run(_listed(stack)) == list(reversed(old))
    assert bootstrap(stack.aws, stack.pipeline) == []


_LEGACY_INDEX = {
    "IndexName": LEGACY_TENANT_INDEX,
    "KeySchema": [
        {"AttributeName": "tenant", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}


def _old_record(job_id: str, created_at: str) -> dict[str, Any]:
    return {
        "job_id": {"S": job_id},
        "tenant": {"S": "acme"},
        "state": {"S": "SUCCEEDED"},
        "created_at": {"S": created_at},
        "updated_at": {"S": created_at},
        "object": {"M": {"bucket": {"S": "b"}, "key": {"S": f"incoming/acme/{job_id}"}}},
        "expires_at": {"N": "4102444800"},
    }


async def _listed(stack: Stack) -> list[str]:
    async with AsyncExitStack() as exit_stack:
        clients = await open_clients(exit_stack, stack.aws)
        store = JobStore(clients.dynamodb, stack.pipeline.table)
        jobs, _ = await store.list_for_tenant("acme", state=None, limit=100, start=None)
        return [j.job_id for j in jobs]
