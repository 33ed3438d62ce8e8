"""One module per way a job comes to be or is looked at: streamed uploads, direct
(presigned) uploads, job queries and cancel. Routes stay thin and call these; each
takes its collaborators explicitly."""
