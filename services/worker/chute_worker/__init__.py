"""chute's worker: consumes S3 events from SQS and runs processors on the objects.
The loop is `chute_worker.loop.Worker`, one message is `chute_worker.runner.JobRunner`;
the process is `chute_worker.main`."""
