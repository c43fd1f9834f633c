"""Notes.

Changes from v1 to v2, each undone here:
- ``body`` became ``note`` and ``name`` became ``display_name``.
- v2 notes have no id; v1 clients get a stable ``no_`` id (see ``mappings.ids``).
- v2 has no notes list: notes are read through ``include[]=notes`` on the application,
  which also needs the scope ``job-application-notes:read``.

v2 guarantees no member of a note (``homerun-v2.openapi.yaml``); what a missing (absent
or null) one becomes in v1:
- ``note`` -> ``body`` null; ``display_name`` -> ``name`` null; a date -> null.
- ``is_sensitive`` -> ``false`` (v2's own default when a note is created without it).
- ``created_at`` -> the id hashes the empty instant ``""``: the n-th undated note of an
  application keeps its id as long as v2 lists its undated notes in the same order. The
  answer to a create without ``created_at`` reads the notes once more and answers the
  note as listed (:func:`listed_note`), so its id is the listing's.
- a note that is null inside ``notes`` is dropped; it takes no position, so the ids of
  the other notes do not move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, Final

from mappings.dates import to_unix_seconds
from mappings.errors import ParamError, V1ValidationError
from mappings.forms import coerce_bool
from mappings.ids import note_id, occurrences
from mappings.plan import SCOPE_NOTES_WRITE, V2Request
from mappings.v2_models import Note

DEFAULT_AUTHOR: Final = "API v1"


def _stamp(note: Note) -> str:
    """The creation instant in UTC: the same note keeps its id whatever offset v2 renders."""
    return note.created_at.astimezone(UTC).isoformat() if note.created_at else ""


def notes_to_v1(application_id: str, notes: Sequence[Note | None]) -> list[dict[str, Any]]:
    """v2 notes of one application, in order, as v1 note objects (null items dropped)."""
    present = [n for n in notes if n is not None]
    stamps = [_stamp(n) for n in present]
    return [
        note_to_v1(application_id, note, occurrence)
        for note, occurrence in zip(present, occurrences(stamps), strict=True)
    ]


def note_to_v1(application_id: str, note: Note, occurrence: int = 0) -> dict[str, Any]:
    """One v2 note as the v1 note: ``note`` -> ``body``, ``display_name`` -> ``name``."""
    stamp = _stamp(note)
    return {
        "id": note_id(application_id, stamp, occurrence),
        "body": note.note,
        "name": note.display_name,
        "is_sensitive": bool(note.is_sensitive),
        "created_at": to_unix_seconds(note.created_at),
        "updated_at": to_unix_seconds(note.updated_at),
    }


def listed_note(
    listed: Sequence[dict[str, Any]], created: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The newest v1 note of a listing that is the note just created (same body, author
    and sensitivity): its id is the one every listing gives, which the answer to the
    create cannot tell when v2 left its ``created_at`` out."""
    keys = ("body", "name", "is_sensitive")
    for entry in listed[::-1]:  # the newest first
        if all(entry.get(k) == created.get(k) for k in keys):
            return entry
    return None


def create_note_request(
    application_id: str, body: Mapping[str, Any], default_author: str = DEFAULT_AUTHOR
) -> V2Request:
    """``POST /v1/applications/{id}/notes`` -> ``POST /job-applications/{id}/notes``.

    v2 requires an author name; a v1 client that sent none gets ``default_author``.
    """
    text = body.get("body", body.get("note"))
    if not isinstance(text, str) or not text.strip():
        raise V1ValidationError([ParamError("body", "is required")])
    author = body.get("name", body.get("display_name"))
    if author is not None and not isinstance(author, str):
        raise V1ValidationError([ParamError("name", "must be text")])
    payload: dict[str, Any] = {
        "note": text,
        "display_name": author.strip() if author and author.strip() else default_author,
        "is_sensitive": coerce_bool(body.get("is_sensitive") or False, "is_sensitive"),
    }
    return V2Request(
        "POST",
        f"/job-applications/{application_id}/notes",
        json=payload,
        scopes=(SCOPE_NOTES_WRITE,),
        v1_params={"note": "body", "display_name": "name", "is_sensitive": "is_sensitive"},
    )
