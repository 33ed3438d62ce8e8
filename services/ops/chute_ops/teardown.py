"""Delete everything `chute bootstrap` made: for tests and throwaway dev stacks only."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chute_core.aws import MISSING_QUEUE_CODES, error_code, sync_client
from chute_core.settings import AwsSettings, PipelineSettings

__all__ = ["teardown"]


def teardown(aws: AwsSettings, pipeline: PipelineSettings) -> None:
    s3, sns = sync_client("s3", aws), sync_client("sns", aws)
    sqs, ddb = sync_client("sqs", aws), sync_client("dynamodb", aws)
    try:
        # List everything first: deleting while paginating would skip objects.
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=pipeline.bucket)
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for i in range(0, len(versions), 1000):
            s3.delete_objects(
                Bucket=pipeline.bucket, Delete={"Objects": versions[i : i + 1000], "Quiet": True}
            )
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=pipeline.bucket):
            for u in page.get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=pipeline.bucket, Key=u["Key"], UploadId=u["UploadId"]
                )
        s3.delete_bucket(Bucket=pipeline.bucket)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchBucket", "404"):
            raise
    for page in sns.get_paginator("list_topics").paginate():
        for t in page.get("Topics", []):
            if t["TopicArn"].rsplit(":", 1)[-1] == pipeline.topic:
                sns.delete_topic(TopicArn=t["TopicArn"])
    for queue in (q for pool in pipeline.pool_set() for q in (pool.queue, pool.dlq)):
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
        except ClientError as exc:
            if error_code(exc) not in MISSING_QUEUE_CODES:
                raise
    try:
        ddb.delete_table(TableName=pipeline.table)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
