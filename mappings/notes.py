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

The id's position is the note's among the application's notes of the same instant
(v2 dates have second precision, so two notes of one second share it). The answer to a
create shows one note, not that position: it is 0 unless the bridge created another
note of this application at this instant. The shell records every create in the
store, before it is sent and once it is answered, in one sequence shared by the
replicas (:func:`sending_mark`, :func:`answered_mark`): the creates of the instant
answered before this one was sent were stored by v2 first and give the position
(:func:`position_among`, no v2 call, also for notes one after another in one second).
Only when another create overlapped this one (or the store cannot tell) does the shell
read the notes once more and answer the note as listed (:func:`listed_note`, ranked
among identical notes). Notes created at the same second outside the bridge (in the
Homerun app) are not seen: such a coincidence would shift the id answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, Final

from mappings.dates import to_unix_seconds
from mappings.errors import ParamError, V1ValidationError
from mappings.forms import coerce_bool
from mappings.ids import note_id, occurrences, short_hash
from mappings.plan import V2Request
from mappings.v2_models import Note

DEFAULT_AUTHOR: Final = "API v1"


def instant_of(note: Note) -> str:
    """The creation instant in UTC: the same note keeps its id whatever offset v2 renders."""
    return note.created_at.astimezone(UTC).isoformat() if note.created_at else ""


def notes_to_v1(application_id: str, notes: Sequence[Note | None]) -> list[dict[str, Any]]:
    """v2 notes of one application, in order, as v1 note objects (null items dropped)."""
    present = [n for n in notes if n is not None]
    stamps = [instant_of(n) for n in present]
    return [
        note_to_v1(application_id, note, occurrence)
        for note, occurrence in zip(present, occurrences(stamps), strict=True)
    ]


def note_to_v1(application_id: str, note: Note, occurrence: int = 0) -> dict[str, Any]:
    """One v2 note as the v1 note: ``note`` -> ``body``, ``display_name`` -> ``name``."""
    stamp = instant_of(note)
    return {
        "id": note_id(application_id, stamp, occurrence),
        "body": note.note,
        "name": note.display_name,
        "is_sensitive": bool(note.is_sensitive),
        "created_at": to_unix_seconds(note.created_at),
        "updated_at": to_unix_seconds(note.updated_at),
    }


def fingerprint(payload: Mapping[str, Any]) -> str:
    """What tells two notes of one instant apart (text, author, sensitivity), from the
    v2 payload a create sends."""
    parts = (payload.get("note"), payload.get("display_name"), bool(payload.get("is_sensitive")))
    return short_hash(*map(str, parts))


def sending_mark(sent: int, print_: str, now: int) -> str:
    """A note create, recorded before it is sent: ``sent`` is its place in the bridge's
    sequence of note creates, ``print_`` its fingerprint, ``now`` the UNIX second (an old
    mark is ignored: its create failed or its answer was lost)."""
    return f"S|{sent}|{print_}|{now}"


def answered_mark(sent: int, print_: str, answered: int, instant: str) -> str:
    """The same create once v2 answered it: also its place in the sequence when it was
    answered, and its instant."""
    return f"A|{sent}|{print_}|{answered}|{instant}"


def refused_mark(sent: int, print_: str) -> str:
    """The same create once v2 refused it, or it was never sent: nothing was stored, it
    counts for nothing."""
    return f"R|{sent}|{print_}|"


def mark_token(sent_at: int, nonce: str) -> str:
    """A create's field among its application's marks. It starts with the UNIX second the
    create was sent, so a later create can tell when the mark stops counting
    (:func:`retired_marks`); the mark itself changes as the create goes on."""
    return f"{sent_at}-{nonce}"


def retired_marks(marks: Mapping[str, str], now: int, stale_after: float) -> list[str]:
    """The marks no create can count any more, for the shell to remove: the hash of a
    busy application then holds only the creates of the last ``2 * stale_after`` seconds,
    not every create since it was last idle.

    - A refused create (``R``) counts for nothing, and one in flight (``S``) past
      ``stale_after`` is skipped by every create (its create failed or lost its answer).
    - Any mark whose create was sent more than ``2 * stale_after + 1`` seconds ago: a create
      X counts a mark M only if both were stored by v2 in one second. X was sent before it
      was stored, so less than ``stale_after + 1`` seconds after M was sent (M's create took
      at most ``stale_after``), and X is answered within ``stale_after`` of being sent.

    A mark or a field that does not read (another version of the bridge) is kept: the
    hash's TTL ends it."""
    keep_after = now - (2 * stale_after + 1)
    retired: list[str] = []
    for token, mark in marks.items():
        kind, _, rest = mark.partition("|")
        sent_at, dash, _ = token.partition("-")
        try:
            stale = kind == "S" and now - int(rest.rsplit("|", 1)[-1]) > stale_after
            old = bool(dash) and int(sent_at) < keep_after
        except ValueError:
            continue
        if kind == "R" or stale or old:
            retired.append(token)
    return retired


def position_among(
    marks: Mapping[str, str], mine: str, now: int, stale_after: float
) -> tuple[int | None, int]:
    """The note's position among the application's notes of its instant, from the marks
    of the application's creates through the bridge (``mine`` names its own), and its
    rank among identical creates (sent before it, of its instant or still in flight).

    A create answered before this one was sent was stored by v2 first: it comes earlier.
    One sent after this one was answered comes later. Any other of the same instant
    (answered meanwhile), or one still in flight, leaves v2's order unknown: the position
    is then ``None``, for a listing to tell; so it is when a mark does not read (written
    by another version of the bridge)."""
    try:
        _, my_sent, my_print, my_answered, my_instant = marks[mine].split("|", 4)
        earlier, rank, known = 0, 0, True
        for token, mark in marks.items():
            kind, sent, print_, rest = mark.split("|", 3)
            if token == mine or kind == "R" or int(sent) > int(my_answered):
                continue
            if kind == "S":
                if now - int(rest) > stale_after:
                    continue
                known = False
            else:
                answered, instant = rest.split("|", 1)
                if instant != my_instant:
                    continue
                if int(answered) < int(my_sent):
                    earlier += 1
                else:
                    known = False
            if print_ == my_print and int(sent) < int(my_sent):
                rank += 1
    except ValueError:
        return None, 0
    return (earlier if known else None), rank


def listed_note(
    listed: Sequence[dict[str, Any]], created: Mapping[str, Any], rank: int | None = None
) -> dict[str, Any] | None:
    """The v1 note of a listing that is the note just created: same body, author and
    sensitivity (and instant, when the create's answer had one). Of several, the
    ``rank``-th, else the newest: its id is the one every listing gives, which the
    answer to the create cannot tell alone."""
    keys: tuple[str, ...] = ("body", "name", "is_sensitive")
    if created.get("created_at") is not None:
        keys += ("created_at",)
    twins = [entry for entry in listed if all(entry.get(k) == created.get(k) for k in keys)]
    if not twins:
        return None
    return twins[-1] if rank is None or rank >= len(twins) else twins[rank]


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
        v1_params={"note": "body", "display_name": "name", "is_sensitive": "is_sensitive"},
    )
