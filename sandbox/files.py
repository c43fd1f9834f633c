"""Uploads and downloads: reading multipart bodies part by part, and temporary download URLs.

Multipart bodies are read incrementally (never `request.post()`), in whatever order the client
sent the parts, and reading stops as soon as a file part passes its size limit. Uploaded bytes
stay in memory. Every rendering of a file issues a fresh token that is valid for
`file_url_ttl_seconds` and can be fetched without authentication, like a pre-signed URL.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from sandbox.errors import FieldError, ValidationFailed
from sandbox.records import StoredFile

READ_CHUNK_BYTES = 64 * 1024
TEXT_PART_LIMIT = 64 * 1024
# Expired grants are kept this long so a late fetch answers 410 Gone rather than 404.
EXPIRED_GRANT_MEMORY_SECONDS = 3600
PRUNE_THRESHOLD = 5000
MALFORMED_MULTIPART = "The request body is not valid multipart/form-data."


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    content: bytes


@dataclass
class MultipartUpload:
    texts: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    # Parts expected to be files that arrived as plain fields (no filename).
    not_files: set[str] = field(default_factory=set)


def _limit_in_kilobytes(limit: int) -> int:
    return max(limit // 1024, 1)


async def read_multipart(request: web.Request, file_limits: Mapping[str, int]) -> MultipartUpload:
    """Text parts and the file parts named in `file_limits`, each file at most its limit.

    Raises ValidationFailed when the body is not multipart or a file is too large; in the
    latter case the rest of the body is left unread.
    """
    upload = MultipartUpload()
    if not request.content_type.startswith("multipart/"):
        raise ValidationFailed(
            [FieldError(name, f"The {name} field is required.") for name in file_limits]
        )
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue  # nested multipart or unnamed parts carry nothing we accept
            if part.name in file_limits and part.filename is not None:
                upload.files[part.name] = await _read_file_part(part, file_limits[part.name])
                upload.not_files.discard(part.name)
            else:
                text = await _read_text_part(part)
                if part.name in file_limits:
                    upload.not_files.add(part.name)
                    upload.files.pop(part.name, None)
                else:
                    upload.texts[part.name] = text
    except (ValueError, AssertionError, RuntimeError, LookupError, HttpProcessingError) as exc:
        raise ValidationFailed([FieldError("file", MALFORMED_MULTIPART)]) from exc
    return upload


async def _read_file_part(part: BodyPartReader, limit: int) -> UploadedFile:
    content = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK_BYTES):
        content.extend(chunk)
        if len(content) > limit:
            name = part.name or "file"
            raise ValidationFailed(
                [
                    FieldError(
                        name,
                        f"The {name} field must not be greater than "
                        f"{_limit_in_kilobytes(limit)} kilobytes.",
                    )
                ]
            )
    content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
    return UploadedFile(
        filename=part.filename or "", content_type=content_type, content=bytes(content)
    )


async def _read_text_part(part: BodyPartReader) -> str:
    content = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK_BYTES):
        content.extend(chunk)
        if len(content) > TEXT_PART_LIMIT:
            name = part.name or "field"
            raise ValidationFailed([FieldError(name, f"The {name} field is too long.")])
    return content.decode("utf-8", errors="replace")


class GrantStatus(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass
class DownloadGrant:
    application_id: str
    file: StoredFile
    expires_at: float


class DownloadGrants:
    """Tokens behind temporary download URLs, each valid for `ttl_seconds` after issue."""

    def __init__(self, ttl_seconds: int, clock: Callable[[], float]) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._grants: dict[str, DownloadGrant] = {}
        # Pruning walks every grant: it runs again only once the live ones have doubled,
        # so issuing stays O(1) amortised however many grants are still valid.
        self._prune_above = PRUNE_THRESHOLD

    def issue(self, application_id: str, stored_file: StoredFile) -> str:
        if len(self._grants) > self._prune_above:
            self._prune()
            self._prune_above = max(PRUNE_THRESHOLD, 2 * len(self._grants))
        token = secrets.token_urlsafe(24)
        self._grants[token] = DownloadGrant(
            application_id=application_id,
            file=stored_file,
            expires_at=self._clock() + self.ttl_seconds,
        )
        return token

    def lookup(self, token: str) -> tuple[GrantStatus, DownloadGrant | None]:
        grant = self._grants.get(token)
        if grant is None:
            return GrantStatus.UNKNOWN, None
        if self._clock() >= grant.expires_at:
            return GrantStatus.EXPIRED, grant
        return GrantStatus.VALID, grant

    def clear(self) -> None:
        self._grants.clear()

    def _prune(self) -> None:
        forget_before = self._clock() - EXPIRED_GRANT_MEMORY_SECONDS
        self._grants = {
            token: grant
            for token, grant in self._grants.items()
            if grant.expires_at > forget_before
        }
