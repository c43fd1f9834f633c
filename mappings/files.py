"""Files.

Changes from v1 to v2, each undone here:
- v2 has no file list: files are the ``files`` property of the application detail.
- v2 files have no id; v1 clients get a stable ``fi_`` id (see ``mappings.ids``).
- the download link became ``temporary_download_url``, valid 300 s from issue.
- v2 cannot delete files: ``DELETE`` answers 410 Gone with a message.
- uploads need an explicit ``type`` in v2; v1 clients that sent none upload a resume.

v2 guarantees no member of a file (``homerun-v2.openapi.yaml``); what a missing (absent
or null) one becomes in v1:
- ``name`` -> ``name`` null, and the id hashes the empty name ``""`` (the n-th unnamed
  file of an application keeps its id while v2 keeps their order). In the answer to an
  upload the name is the one the client uploaded: v2 stored the file under it
  (``mappings.write_answers`` fills it in).
- ``type`` -> null (so is a type v1 did not know); ``temporary_download_url`` -> ``url``
  null. ``url_expires_at`` is always the issue time + 300 s.
- a file that is null inside ``files`` is dropped; it takes no position, so the ids of
  the other files do not move.

The id's position is the file's among the application's files of the same name. v2's
answer to an upload shows the one file, not whether the name repeats (a candidate who
applied on the careers page may well have sent a ``cv.pdf`` already): the shell reads the
application's files once after an upload and answers the id the listing gives the
newest file of that name (:func:`listed_upload`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from mappings.errors import ParamError, V1ValidationError
from mappings.ids import file_id, occurrences
from mappings.plan import V2Request
from mappings.v2_models import File

FILE_TYPES: Final = ("resume", "assignment")
DEFAULT_FILE_TYPE: Final = "resume"
URL_LIFETIME_SECONDS: Final = 300
MAX_UPLOAD_BYTES: Final = 25 * 1024 * 1024
DELETE_GONE_MESSAGE: Final = (
    "Files cannot be deleted through the API any more (Homerun API v2 has no file "
    "deletion); remove the file in the Homerun app"
)


def files_to_v1(
    application_id: str, files: Sequence[File | None], issued_at: int
) -> list[dict[str, Any]]:
    """v2 files of one application, in order, as v1 file objects (null items dropped)."""
    present = [f for f in files if f is not None]
    names = [f.name or "" for f in present]
    return [
        file_to_v1(application_id, f, occurrence, issued_at)
        for f, occurrence in zip(present, occurrences(names), strict=True)
    ]


def file_to_v1(application_id: str, file: File, occurrence: int, issued_at: int) -> dict[str, Any]:
    """One v2 file as the v1 file: the temporary URL and when it stops working."""
    return {
        "id": file_id(application_id, file.name or "", occurrence),
        "name": file.name,
        "type": file.type if file.type in FILE_TYPES else None,
        "url": file.temporary_download_url,
        "url_expires_at": issued_at + URL_LIFETIME_SECONDS,
    }


def file_type(value: str | None) -> str:
    """The v2 ``type`` part: v1 sent none for a resume."""
    if value is None or not value.strip():
        return DEFAULT_FILE_TYPE
    normalised = value.strip().lower()
    if normalised not in FILE_TYPES:
        raise V1ValidationError([ParamError("type", "must be resume or assignment")])
    return normalised


def upload_request(application_id: str) -> V2Request:
    """``POST /v1/applications/{id}/files`` -> ``POST /job-applications/{id}/files``.

    The body is streamed by the shell (multipart parts ``type`` and ``file``).
    """
    return V2Request(
        "POST",
        f"/job-applications/{application_id}/files",
        v1_params={"file": "file", "type": "type"},
    )


def listed_upload(listed: Sequence[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The v1 file of a listing read just after an upload that is the file uploaded: the
    newest of its name (v2 appends), else the newest file when v2 left the names out."""
    for entry in listed[::-1]:
        if entry["name"] == name:
            return entry
    if listed and listed[-1]["name"] is None:
        return listed[-1]
    return None


def choosing_mark(now: int) -> str:
    """An upload about to take its ticket for its application's turn (``now``: UNIX
    second). While it chooses, no upload may start: its ticket may come out lower."""
    return f"C|{now}"


def turn_mark(ticket: int, now: int) -> str:
    """An upload holding ``ticket`` in its application's shared queue of turns."""
    return f"T|{ticket}|{now}"


def turn_is_mine(marks: Mapping[str, str], mine: str, now: int, stale_after: float) -> bool:
    """Whether the upload whose mark is ``mine`` may go (a bakery queue: the store has no
    lock): no other upload is choosing its ticket, nor holds a lower one. A mark older than
    ``stale_after`` belongs to a bridge that died mid-turn (or a turn that long, a very
    slow client's upload) and no longer holds the queue; one that does not read is
    ignored."""
    try:
        ticket = int(marks[mine].split("|")[1])
    except (KeyError, IndexError, ValueError):
        return True
    for token, mark in marks.items():
        parts = mark.split("|")
        if token == mine or not parts[-1].isdigit() or now - int(parts[-1]) > stale_after:
            continue
        earlier = parts[0] == "T" and len(parts) == 3 and parts[1].isdigit()
        if parts[0] == "C" or (earlier and int(parts[1]) < ticket):
            return False
    return True
