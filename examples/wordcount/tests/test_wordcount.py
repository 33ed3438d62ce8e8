"""The example plugin on its own: counts, result file, and discovery by entry point."""

import json
import time
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path

from chute_core.jobs import JobState, ObjectInfo, new_job, new_job_id
from chute_wordcount import WordCount
from chute_worker.processors import FileContext


def test_wordcount_counts_lines_words_and_top_words(tmp_path: Path) -> None:
    source = tmp_path / "object"
    source.write_text("the cat\nthe hat and the bat\n")
    job = new_job(
        job_id=new_job_id(),
        tenant="t",
        obj=ObjectInfo(bucket="b", key="k"),
        ttl=timedelta(days=1),
        state=JobState.PROCESSING,
    )
    ctx = FileContext(
        job=job,
        processor="wordcount",
        content_type="text/plain",
        deadline=time.time() + 10,
        path=source,
        out_dir=tmp_path / "out",
    )
    summary = WordCount().process_file(ctx)
    assert (summary["lines"], summary["words"]) == (2, 7)
    assert summary["top_words"][0] == ("the", 3)
    assert json.loads((tmp_path / "out" / "counts.json").read_text())["words"] == 7
    assert ctx.outputs == [("counts.json", "application/json")]


def test_wordcount_is_registered_as_a_chute_processor() -> None:
    (entry,) = entry_points(group="chute.processors", name="wordcount")
    assert entry.load() is WordCount
