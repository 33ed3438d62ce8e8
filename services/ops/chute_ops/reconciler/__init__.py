"""`chute reconcile`: find overdue jobs with the due index, look at the evidence, repair
with conditional writes (docs/reliability.md, "The reconciler")."""
