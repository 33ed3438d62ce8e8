"""Read an upload's bytes incrementally from the request, raw or multipart/form-data.

FastAPI's UploadFile would spool the whole file to disk before the route runs; these
readers hand each chunk on as it arrives, so the S3 writer sees it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from chute_api.errors import BadUpload, UploadTimeout

__all__ = ["IncomingFile", "declared_length", "form_file", "idle_limited", "raw_file"]

FILE_FIELD = "file"
MAX_PART_HEADER_BYTES = 16 * 1024


@dataclass
class IncomingFile:
    filename: str | None
    content_type: str
    chunks: AsyncIterator[bytes]


async def idle_limited(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """The body's chunks, failing with UploadTimeout when the client goes quiet."""
    iterator = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadTimeout(f"no bytes received for {seconds:g} s") from None
        yield chunk


def declared_length(request: Request) -> int | None:
    """The body's Content-Length, when the client sent a valid one."""
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def raw_file(request: Request, filename: str | None) -> IncomingFile:
    content_type = request.headers.get("content-type") or "application/octet-stream"
    return IncomingFile(filename=filename, content_type=content_type, chunks=request.stream())


class _FormReader:
    """Feeds request chunks into python-multipart's push parser and collects the
    `file` field's bytes; other fields are skipped."""

    def __init__(self, request: Request, boundary: bytes) -> None:
        self._stream = request.stream()
        self._pending: list[bytes] = []
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._in_file = False
        self.file_started = False
        self.file_ended = False
        self.filename: str | None = None
        self.content_type = "application/octet-stream"
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]
        self._count(end - start)

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._count(end - start)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise BadUpload("multipart part headers are too large")

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") == FILE_FIELD.encode() and not self.file_started:
            self._in_file = True
            self.file_started = True
            raw_name = options.get(b"filename")
            self.filename = raw_name.decode("utf-8", "replace") if raw_name else None
            part_type = self._headers.get(b"content-type")
            if part_type:
                self.content_type = part_type.decode("latin-1").strip()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self.file_ended = True

    async def pump(self) -> bool:
        """Feed one more request chunk; False once the body has ended."""
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            self._parser.finalize()
            return False
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise BadUpload(f"malformed multipart body: {exc}") from None
        return True

    def take(self) -> list[bytes]:
        pending, self._pending = self._pending, []
        return pending

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            for piece in self.take():
                yield piece
            if self.file_ended:
                break
            if not await self.pump():
                raise BadUpload("multipart body ended inside the file part")
        while await self.pump():  # read the rest so the closing boundary is checked
            self.take()


async def form_file(request: Request) -> IncomingFile:
    """Parse up to the start of the `file` field; its bytes then stream from `chunks`."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload("multipart/form-data without a boundary")
    reader = _FormReader(request, boundary)
    while not reader.file_started:
        if not await reader.pump():
            raise BadUpload(f"multipart/form-data has no '{FILE_FIELD}' field")
    return IncomingFile(
        filename=reader.filename, content_type=reader.content_type, chunks=reader.chunks()
    )
