"""Read a chute process's own /metrics page."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric_sum(base_url: str, sample: str, **labels: str) -> float:
    """The sum of the samples named `sample` (e.g. `chute_uploads_rejected_total`)
    whose labels include `labels`, on `base_url`/metrics; 0 when there are none."""
    text = httpx.get(f"{base_url}/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    )
