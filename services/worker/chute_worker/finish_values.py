"""What a finished attempt writes to the job record besides its state."""

from __future__ import annotations

from chute_core.errors import ProcessorError
from chute_core.jobs import JobError, ProcessingResult, iso, utcnow

__all__ = ["finish_values"]


def finish_values(
    result: ProcessingResult, *, etag: str | None, error: ProcessorError | None, final: bool
) -> dict[str, object]:
    """The result, and for a final attempt (not a retry back to QUEUED) its end and the
    object it processed (`etag`); the error, or what the processors measured."""
    values: dict[str, object] = {"result": result.model_dump(mode="json", exclude_none=True)}
    if final:
        values["finished_at"] = iso(utcnow())
        if etag:
            values["processed_etag"] = etag
    if error is not None:
        values["error"] = JobError.from_exception(error).model_dump()
        return values
    inspected = result.summary_of("inspect") or {}
    if "sha256" in inspected:
        values["sha256"] = inspected["sha256"]
    detected = result.content_type or inspected.get("detected_type")
    if detected:
        values["detected_type"] = detected
    return values
