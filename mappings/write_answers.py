"""Reading v2's answer to a write that happened: never a failure, always what can be read.

Contract §3 (rev 2): once v2 answered 2xx to a POST or PATCH, the write is done, and the
v1 client gets the success status with whatever of the object the bridge could read. A
retried create would be a duplicate, so an answer the bridge cannot read must not become
a 502. :func:`read_write_answer` takes v2's raw body and returns the object as far as it
can be read, plus the names of what was missing or unreadable (for the shell's
``write_answer_degraded`` log line):

- a body that is not JSON, or has no ``data`` object -> nothing is read from it
  (``"body"`` / ``"data"`` named);
- a member that does not validate (wrong type, bad date) is dropped and named
  (``"data.personal_info.email"``), the rest is kept, and what was sent for it (below)
  stands in;
- ``data.id`` missing -> named; the id the shell already knows (the path of a PATCH)
  stands in, else the object is read without one (``WriteAnswer.id_known`` false);
- a member the answer leaves out (absent or null), which v2 guarantees nowhere, is taken
  from what the bridge sent (``sent``, in the answer's shape): v2 stored exactly that.
  Only unreadable parts are "missing": a spec-valid sparse answer is not degraded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# Placeholder id while reading an object whose answer carried none (never shown: the
# v1 answer then says null).
UNKNOWN_ID: Final = ""
# Each round drops at least one unreadable member; a body with more is read as empty.
_MAX_ROUNDS: Final = 50


@dataclass(frozen=True, slots=True)
class WriteAnswer(Generic[M]):
    """What could be read of v2's answer to a confirmed write."""

    data: M
    missing: tuple[str, ...]
    id_known: bool = True

    @property
    def degraded(self) -> bool:
        return bool(self.missing)


def _filled(answer: dict[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    """``answer`` with the members it leaves out (absent or null) taken from ``sent``."""
    result = dict(answer)
    for key, value in sent.items():
        current = result.get(key)
        if current is None:
            result[key] = value
        elif isinstance(current, dict) and isinstance(value, Mapping):
            result[key] = _filled(current, value)
    return result


def _drop(document: Any, location: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """Remove the member at ``location`` and say where: a required member that is missing
    takes the object holding it along (a null in a list keeps the others' positions)."""
    if not location:
        return None
    parent = document
    for step in location[:-1]:
        if isinstance(parent, dict) and step in parent:
            parent = parent[step]
        elif isinstance(parent, list) and isinstance(step, int) and 0 <= step < len(parent):
            parent = parent[step]
        else:
            return None
    last = location[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return location
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        if parent[last] is None:
            return None
        parent[last] = None
        return location
    return _drop(document, location[:-1])


def _name(location: tuple[int | str, ...]) -> str:
    return ".".join(["data", *(str(step) for step in location)])


def read_write_answer(
    raw: bytes,
    model: type[M],
    sent: Mapping[str, Any] | None = None,
    *,
    known_id: str | None = None,
) -> WriteAnswer[M]:
    """v2's answer to a confirmed write, read as far as it goes (see the module doc).

    ``model`` is the object inside ``data`` (a job application, a note, a file).
    """
    missing: list[str] = []
    try:
        document: Any = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
        document = None
        missing.append("body")
    data: Any = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        if not missing:
            missing.append("data")
        data = {}
    data = _filled(data, sent or {})
    id_known = True
    if "id" in model.model_fields and not isinstance(data.get("id"), str):
        missing.append("data.id")
        id_known = known_id is not None
        data["id"] = known_id if known_id is not None else UNKNOWN_ID
    for _ in range(_MAX_ROUNDS):
        try:
            return WriteAnswer(model.model_validate(data), tuple(dict.fromkeys(missing)), id_known)
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                location = tuple(error["loc"])
                gone = _drop(data, location) if location != ("id",) else None
                if gone:
                    missing.append(_name(gone))
                    dropped = True
            if not dropped:
                break
            data = _filled(data, sent or {})  # what was sent stands in for what was dropped
    # Nothing readable is left but the id (if any): an object with every member missing.
    missing.append("data")
    bare = {"id": data["id"]} if "id" in model.model_fields else {}
    return WriteAnswer(model.model_validate(bare), tuple(dict.fromkeys(missing)), id_known)
