"""Streaming file uploads: v1 multipart in, v2 multipart out, never whole in memory.

Each part the client sends is forwarded as it arrives, in 64 KiB chunks, with the
upstream connection's back-pressure pacing the reads. v2 needs a ``type`` part; a v1
client that sent none gets ``type=resume`` appended at the end (multipart parts have
no required order). Counting bytes on the way through, an upload over 25 MB is cut
off at once (413), before it completes; the aborted upstream request creates nothing.
A client that pauses longer than the body timeout between two pieces gets a 400, and
the upstream request is aborted the same way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from http import HTTPStatus
from typing import TypeVar

from aiohttp import BodyPartReader, MultipartReader, web

from mappings.errors import ParamError, V1Error, V1ValidationError
from mappings.files import MAX_UPLOAD_BYTES, file_type
from proxy.body import BROKEN_MULTIPART

CHUNK_BYTES = 64 * 1024
# Multipart framing around a 25 MB file: headers and boundaries, generously.
FRAMING_SLACK_BYTES = 64 * 1024
# A v1 upload is a file and a type; a few more parts are skipped, thousands are an attack
# (aiohttp parses each part's headers: tens of thousands of tiny parts cost seconds of CPU).
MAX_PARTS = 32

T = TypeVar("T")


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


class UploadStream:
    """Turns the client's multipart body into the upstream's, lazily.

    ``failure`` keeps the v1 error that stopped the stream, because the HTTP client
    reports an aborted body as its own connection error.
    """

    def __init__(
        self,
        reader: MultipartReader,
        max_bytes: int = MAX_UPLOAD_BYTES,
        pause_timeout: float | None = None,
    ) -> None:
        self._reader = reader
        self._max_bytes = max_bytes
        self._pause_timeout = pause_timeout
        self.boundary = uuid.uuid4().hex
        self.failure: V1Error | None = None
        self.file_bytes = 0
        self._skipped_bytes = 0
        self.file_name: str | None = None

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _part_head(self, name: str, filename: str | None, content_type: str | None) -> bytes:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{_quoted(filename)}"'
        head = f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        return (head + "\r\n").encode()

    def _fail(self, error: V1Error) -> V1Error:
        self.failure = error
        return error

    async def _in_time(self, step: Awaitable[T]) -> T:
        """One read from the client, which may not pause longer than ``pause_timeout``."""
        try:
            async with asyncio.timeout(self._pause_timeout):
                return await step
        except TimeoutError:
            raise self._fail(
                V1ValidationError(
                    [
                        ParamError(
                            "file",
                            f"the upload stalled: nothing arrived for {self._pause_timeout:g} s",
                        )
                    ]
                )
            ) from None

    async def body(self) -> AsyncIterator[bytes]:
        seen_type = False
        seen_file = False
        parts = 0
        try:
            while True:
                part = await self._in_time(self._reader.next())
                if part is None:
                    break
                parts += 1
                if parts > MAX_PARTS:
                    raise self._fail(
                        V1ValidationError([ParamError("file", f"more than {MAX_PARTS} parts")])
                    )
                if not isinstance(part, BodyPartReader):
                    continue  # nested multipart: not a v1 shape, skip it
                if part.name == "type" and not seen_type:
                    raw = await self._in_time(part.read(decode=True))
                    kind = file_type(raw[:64].decode("utf-8", errors="replace"))
                    seen_type = True
                    yield self._part_head("type", None, None) + kind.encode() + b"\r\n"
                elif part.name == "file" and not seen_file:
                    seen_file = True
                    self.file_name = part.filename or "upload"
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    yield self._part_head("file", self.file_name, content_type)
                    async for chunk in self._file_chunks(part):
                        yield chunk
                    yield b"\r\n"
                else:
                    await self._skip(part)  # not forwarded, but counted against the limit
            if not seen_file:
                raise self._fail(V1ValidationError([ParamError("file", "is required")]))
            if not seen_type:
                yield self._part_head("type", None, None) + file_type(None).encode() + b"\r\n"
            yield f"--{self.boundary}--\r\n".encode()
        except V1Error as exc:
            self._fail(exc)
            raise
        except BROKEN_MULTIPART as exc:
            raise self._fail(
                V1ValidationError([ParamError("file", "broken multipart body")])
            ) from exc

    def _too_large(self) -> V1Error:
        return self._fail(
            V1Error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"The file is larger than {self._max_bytes // (1024 * 1024)} MB",
            )
        )

    async def _skip(self, part: BodyPartReader) -> None:
        while chunk := await self._in_time(part.read_chunk(CHUNK_BYTES)):
            self._skipped_bytes += len(chunk)
            if self._skipped_bytes > self._max_bytes:
                raise self._too_large()

    async def _file_chunks(self, part: BodyPartReader) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._in_time(part.read_chunk(CHUNK_BYTES))
            if not chunk:
                return
            self.file_bytes += len(chunk)
            if self.file_bytes > self._max_bytes:
                raise self._too_large()
            yield chunk


async def open_upload(request: web.Request, pause_timeout: float | None = None) -> UploadStream:
    """Check what can be checked before reading: size declared, multipart at all."""
    declared = request.content_length
    if declared is not None and declared > MAX_UPLOAD_BYTES + FRAMING_SLACK_BYTES:
        raise V1Error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
        )
    if not request.content_type.startswith("multipart/form-data"):
        raise V1ValidationError(
            [ParamError("file", "upload the file as multipart/form-data with a part named file")]
        )
    try:
        reader = await request.multipart()
    except BROKEN_MULTIPART as exc:
        raise V1ValidationError([ParamError("file", "broken multipart body")]) from exc
    return UploadStream(reader, pause_timeout=pause_timeout)
