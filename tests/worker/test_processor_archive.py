"""The archive processor on generated archives, bombs and traversal attempts."""

import json
import time
from pathlib import Path

import pytest

from chute_core.errors import ProcessorError
from chute_worker.processors.archive import ArchiveProcessor, ArchiveSettings, unsafe_reason
from tests.support import files
from tests.support.file_runs import run_file

PROCESSOR = ArchiveProcessor(ArchiveSettings())


def test_zip_listing_has_names_sizes_and_ratios(tmp_path: Path) -> None:
    body = files.zip_of({"a.txt": b"a" * 10_000, "dir/b.bin": bytes(range(256))})
    summary, ctx = run_file(PROCESSOR, body, "application/zip", tmp_path)
    assert summary["format"] == "zip"
    assert summary["entries"] == 2
    assert summary["uncompressed_bytes"] == 10_256
    by_name = {e["name"]: e for e in summary["sample"]}
    assert by_name["a.txt"]["size"] == 10_000
    assert by_name["a.txt"]["ratio"] > 50
    listing = json.loads((ctx.out_dir / "listing.json").read_bytes())
    assert [e["name"] for e in listing["entries"]] == ["a.txt", "dir/b.bin"]


def test_tar_gz_is_listed_in_one_streaming_pass(tmp_path: Path) -> None:
    body = files.tar_of({"x/1.txt": b"one", "x/2.txt": b"two!"}, gz=True, symlinks={"x/l": "1.txt"})
    summary, _ = run_file(PROCESSOR, body, "application/gzip", tmp_path)
    assert summary["format"] == "tar.gz"
    assert [(e["name"], e["type"]) for e in summary["sample"]] == [
        ("x/1.txt", "file"),
        ("x/2.txt", "file"),
        ("x/l", "symlink"),
    ]


def test_zip_bomb_over_10_gib_is_reported_within_seconds(tmp_path: Path) -> None:
    body = files.zip_bomb()  # 11 GiB of zeros in ~11 MiB
    started = time.monotonic()
    with pytest.raises(ProcessorError) as caught:
        run_file(PROCESSOR, body, "application/zip", tmp_path)
    assert caught.value.code == "archive_bomb"
    assert not caught.value.retryable
    assert time.monotonic() - started < 5


def test_nested_zip_bomb_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ProcessorError) as caught:
        run_file(PROCESSOR, files.nested_zip_bomb(), "application/zip", tmp_path)
    assert caught.value.code == "archive_bomb"


def test_too_many_entries_is_an_archive_bomb(tmp_path: Path) -> None:
    body = files.zip_of({f"{i}.txt": b"" for i in range(30)})
    processor = ArchiveProcessor(ArchiveSettings(archive_max_entries=20))
    with pytest.raises(ProcessorError, match="archive_bomb"):
        run_file(processor, body, "application/zip", tmp_path)


def test_tar_with_parent_directory_names_is_unsafe(tmp_path: Path) -> None:
    body = files.tar_of({"ok.txt": b"1", "../../etc/cron.d/evil": b"2"})
    with pytest.raises(ProcessorError) as caught:
        run_file(PROCESSOR, body, "application/x-tar", tmp_path)
    assert caught.value.code == "unsafe_archive"
    assert "../../etc/cron.d/evil" in caught.value.message


@pytest.mark.parametrize(
    ("name", "link", "reason"),
    [
        ("/etc/passwd", None, "absolute path"),
        ("a/../../b", None, "path traversal"),
        ("C:\\windows", None, "absolute path"),
        ("a/link", "../../outside", "link escaping the root"),
        ("a/link", "/etc/shadow", "link to an absolute path"),
        ("a/link", "../sibling", None),
        ("a/b.txt", None, None),
    ],
)
def test_unsafe_names_and_links_are_recognised(
    name: str, link: str | None, reason: str | None
) -> None:
    assert unsafe_reason(name, link) == reason


def test_garbage_is_corrupt_input(tmp_path: Path) -> None:
    with pytest.raises(ProcessorError) as caught:
        run_file(PROCESSOR, b"PK\x03\x04 not really a zip", "application/zip", tmp_path)
    assert caught.value.code == "corrupt_input"
