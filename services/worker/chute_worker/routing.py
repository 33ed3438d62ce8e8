"""Which processors a job runs: the upload's explicit list, else the first routing rule
whose content-type pattern matches (exact types before `type/*` before `*/*`)."""

from __future__ import annotations

from collections.abc import Mapping

from chute_core.content_types import matches
from chute_core.jobs import Job
from chute_worker.processors.registry import Registry

__all__ = ["Router"]


def _specificity(pattern: str) -> int:
    if pattern == "*/*":
        return 2
    return 1 if "*" in pattern else 0


class Router:
    def __init__(self, routes: Mapping[str, list[str]], registry: Registry) -> None:
        ordered = sorted(routes.items(), key=lambda item: _specificity(item[0]))
        # References (module:attr) load now: a typo stops the worker at start, not a job.
        self.rules = [(pattern, [registry.name_of(i) for i in items]) for pattern, items in ordered]
        self._registry = registry

    def needs_type(self, job: Job) -> bool:
        """Whether choosing and checking the processors needs the detected content type
        (it costs a ranged GET, so a catch-all route of catch-all processors skips it)."""
        names = job.processors if job.processors is not None else None
        if names is None:
            if any(pattern != "*/*" for pattern, _ in self.rules):
                return True
            names = self.rules[0][1] if self.rules else []
        for name in names:
            processor = self._registry.get(name)
            if processor is None or processor.spec.accepts != ("*/*",):
                return True
        return False

    def select(self, job: Job, content_type: str) -> tuple[list[str], bool]:
        """(processor names, explicit): explicit lists fail on a type they cannot take,
        routed processors that do not accept the type are skipped."""
        if job.processors is not None:
            return list(job.processors), True
        for pattern, names in self.rules:
            if matches(content_type, (pattern,)):
                return names, False
        return [], False
