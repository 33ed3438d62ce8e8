"""`archive`: list zip and tar(.gz) archives without extracting anything to disk.

Reports entry names, sizes and compression ratios. Stops with `archive_bomb` when the
entries, their total uncompressed size or the compression ratio pass the configured
limits; nested archives (a zip in a zip) are listed too, counted against the same
totals and read into memory only up to a small bound. Entries that would escape the
extraction root (`../`, absolute paths, symlinks pointing out) fail the job as
`unsafe_archive`, naming them."""

from __future__ import annotations

import io
import json
import posixpath
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import IO, Annotated, Any

from pydantic import Field
from pydantic_settings import BaseSettings

from chute_core.errors import ProcessorError
from chute_core.settings import CONFIG, load
from chute_worker.processors import FileContext, ProcessorSpec

__all__ = ["ArchiveProcessor", "ArchiveSettings"]

MiB = 1024 * 1024
GiB = 1024 * MiB
ACCEPTS = ("application/zip", "application/x-tar", "application/gzip")
LISTED = 1000  # entries written to listing.json; the summary keeps a sample
SAMPLE = 20
RATIO_FLOOR = 100 * MiB  # ratios only matter once this much would be written


class ArchiveSettings(BaseSettings):
    model_config = CONFIG

    archive_max_entries: Annotated[int, Field(ge=1)] = 10_000
    archive_max_total_bytes: Annotated[int, Field(ge=1)] = 4 * GiB
    archive_max_ratio: Annotated[float, Field(gt=1)] = 200.0
    archive_max_depth: Annotated[int, Field(ge=0, le=5)] = 2
    archive_nested_max_bytes: Annotated[int, Field(ge=0)] = 64 * MiB
    archive_max_input_bytes: Annotated[int, Field(ge=1)] = 2 * GiB
    archive_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0


def unsafe_reason(name: str, link: str | None = None) -> str | None:
    """Why extracting `name` (or following its link) would leave the root, if it would."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "path traversal"
    if link is not None:
        if link.startswith("/"):
            return "link to an absolute path"
        target = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
        if target == ".." or target.startswith("../"):
            return "link escaping the root"
    return None


@dataclass
class Listing:
    settings: ArchiveSettings
    archive_bytes: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    total: int = 0
    nested: int = 0
    unsafe: list[dict[str, str]] = field(default_factory=list)

    def add(
        self, path: str, size: int, compressed: int | None, kind: str, link: str | None
    ) -> None:
        self.count += 1
        self.total += size
        limits = self.settings
        if self.count > limits.archive_max_entries:
            raise _bomb(f"more than {limits.archive_max_entries} entries")
        if self.total > limits.archive_max_total_bytes:
            raise _bomb(
                f"entries expand to more than {limits.archive_max_total_bytes} bytes (at {path!r})"
            )
        if (
            self.total > RATIO_FLOOR
            and self.total / max(1, self.archive_bytes) > limits.archive_max_ratio
        ):
            raise _bomb(
                f"compression ratio over {limits.archive_max_ratio:g}:1 "
                f"({self.total} bytes from {self.archive_bytes})"
            )
        reason = unsafe_reason(path.split("!/")[-1], link)
        if reason:
            self.unsafe.append({"name": path, "reason": reason})
        if len(self.entries) < LISTED:
            entry: dict[str, Any] = {"name": path, "size": size, "type": kind}
            if compressed is not None:
                entry["compressed"] = compressed
                entry["ratio"] = round(size / compressed, 2) if compressed else None
            if link is not None:
                entry["link"] = link
            self.entries.append(entry)


def _bomb(message: str) -> ProcessorError:
    return ProcessorError("archive_bomb", message, retryable=False)


def _is_zip_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


class ArchiveProcessor:
    def __init__(self, settings: ArchiveSettings | None = None) -> None:
        self.settings = settings or load(ArchiveSettings)
        self.spec = ProcessorSpec(
            name="archive",
            accepts=ACCEPTS,
            max_input_bytes=self.settings.archive_max_input_bytes,
            timeout_seconds=self.settings.archive_timeout_seconds,
            cpu_bound=True,
            description="zip/tar listing with bomb and path-traversal checks",
        )

    def process_file(self, ctx: FileContext) -> dict[str, Any]:
        listing = Listing(self.settings, ctx.size)
        with ctx.open() as f:
            fmt = self._list(f, "", listing, depth=0)
        if listing.unsafe:
            names = ", ".join(f"{u['name']!r} ({u['reason']})" for u in listing.unsafe[:5])
            more = f" and {len(listing.unsafe) - 5} more" if len(listing.unsafe) > 5 else ""
            raise ProcessorError(
                "unsafe_archive", f"entries escape the root: {names}{more}", retryable=False
            )
        report = {"format": fmt, "entries": listing.entries, "truncated": listing.count > LISTED}
        ctx.write_result("listing.json", json.dumps(report).encode(), "application/json")
        return {
            "format": fmt,
            "entries": listing.count,
            "uncompressed_bytes": listing.total,
            "archive_bytes": listing.archive_bytes,
            "ratio": round(listing.total / listing.archive_bytes, 2)
            if listing.archive_bytes
            else None,
            "nested_archives": listing.nested,
            "sample": listing.entries[:SAMPLE],
        }

    def _list(self, f: IO[bytes], prefix: str, listing: Listing, depth: int) -> str:
        head = f.read(4)
        f.seek(0)
        try:
            if head.startswith(b"PK"):
                self._zip(f, prefix, listing, depth)
                return "zip"
            return self._tar(f, prefix, listing)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise ProcessorError(
                "corrupt_input",
                f"unreadable archive{' ' + prefix if prefix else ''}: {exc}",
                retryable=False,
            ) from None

    def _zip(self, f: IO[bytes], prefix: str, listing: Listing, depth: int) -> None:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
            if len(infos) > self.settings.archive_max_entries:
                raise _bomb(
                    f"{len(infos)} entries; the limit is {self.settings.archive_max_entries}"
                )
            for info in infos:
                path = prefix + info.filename
                link = None
                kind = "dir" if info.is_dir() else "file"
                if _is_zip_symlink(info):
                    kind = "symlink"
                    with archive.open(info) as member:
                        link = member.read(4096).decode("utf-8", "replace")
                listing.add(path, info.file_size, info.compress_size, kind, link)
                if kind == "file" and info.filename.lower().endswith((".zip", ".jar")):
                    self._nested(archive, info, path, listing, depth)

    def _nested(
        self,
        archive: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        path: str,
        listing: Listing,
        depth: int,
    ) -> None:
        listing.nested += 1
        if depth >= self.settings.archive_max_depth:
            raise _bomb(f"archives nested deeper than {self.settings.archive_max_depth} ({path!r})")
        if info.file_size > self.settings.archive_nested_max_bytes:
            return  # listed with its size; too large to open in memory
        with archive.open(info) as member:
            body = member.read(self.settings.archive_nested_max_bytes + 1)
        if not body.startswith(b"PK"):
            return
        inner = Listing(self.settings, len(body))
        inner.count, inner.total = listing.count, listing.total
        self._zip(io.BytesIO(body), path + "!/", inner, depth + 1)
        listing.count, listing.total = inner.count, inner.total
        listing.nested += inner.nested
        listing.unsafe += inner.unsafe
        listing.entries += inner.entries[: max(0, LISTED - len(listing.entries))]

    def _tar(self, f: IO[bytes], prefix: str, listing: Listing) -> str:
        head = f.read(2)
        f.seek(0)
        compressed = head == b"\x1f\x8b"
        try:
            # Streaming mode: one pass, nothing extracted, no seeking back.
            with tarfile.open(fileobj=f, mode="r|*") as archive:
                for member in archive:
                    kind = (
                        "dir"
                        if member.isdir()
                        else "symlink"
                        if member.issym()
                        else ("hardlink" if member.islnk() else "file")
                    )
                    link = member.linkname if member.issym() or member.islnk() else None
                    listing.add(prefix + member.name, member.size, None, kind, link)
        except tarfile.ReadError:
            if compressed and listing.count == 0:
                return "gzip"  # a gzip stream with no tar inside: nothing to list
            raise
        return "tar.gz" if compressed else "tar"
