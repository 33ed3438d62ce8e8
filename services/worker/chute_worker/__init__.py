"""chute's worker: consumes S3 events from SQS and runs processors on the objects."""

from chute_worker.consumer import Worker

__all__ = ["Worker"]
