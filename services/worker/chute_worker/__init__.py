"""chute's worker: consumes S3 events from SQS and runs processors on the objects.
The loop is `chute_worker.consumer.Worker`; the process is `chute_worker.main`."""
