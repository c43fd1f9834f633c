"""Sparse answers: what a real API v2 may send, which the full sandbox never does.

The spec ("What an answer guarantees" in homerun-v2.openapi.yaml) requires only `data` in
every answer and `id` in every vacancy and job application; any other member may be absent
or null. With `SandboxConfig.sparse` on, every 2xx JSON answer of /v2 is thinned after it
was rendered (the world is unchanged, only what is said about it):

- top-level members other than `data` (`meta`, `links`) are left out whole, or kept whole
  (their own members are required when they are present);
- inside `data`, every member but `id` is left out, set to null where the spec allows null
  for it (see NULLABLE), or kept and thinned in turn;
- items of lists (applications, notes, files, stages) are never removed or nulled: the
  spec's item schemas allow neither.

It is seeded: the answer to the n-th request for one method and path is thinned the same
way in every run with the same `sparse_seed`, whatever other requests run in between.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Final

# Members the spec types as nullable, by the kind of object that holds them.
NULLABLE: Final[dict[str, frozenset[str]]] = {
    "vacancy": frozenset(
        "share_image_url type expires_at is_remote location_type location department"
        " page_content salary_indication".split()
    ),
    "application": frozenset(
        "rating hired_at first_reply_at vacancy_id stage notes sources vacancy"
        " disqualification_reason question_answers education experience pronouns skype"
        " facebook twitter linkedin github website assignment files custom_data".split()
    ),
    "personal_info": frozenset("city country date_of_birth phone_number photo".split()),
    "location": frozenset("name country address postal_code city region".split()),
}
# The kind of object a member holds, where the kind matters for NULLABLE.
CHILD_KINDS: Final[dict[tuple[str, str], str]] = {
    ("application", "personal_info"): "personal_info",
    ("application", "vacancy"): "vacancy",
    ("vacancy", "location"): "location",
}
LEAVE_OUT: Final = 0.35
SET_NULL: Final = 0.2


def kind_of_route(route_template: str) -> str:
    """What `data` holds for a /v2 route template (relative to /v2)."""
    if route_template.startswith("/vacancies"):
        return "vacancy"
    if route_template.endswith("/notes"):
        return "note"
    if route_template.endswith("/files"):
        return "file"
    return "application"


class Thinner:
    """Thins answers, seeded per (method, path, n-th time)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._asked: Counter[str] = Counter()

    def thin(self, method: str, path_qs: str, route_template: str, document: Any) -> Any:
        """The answer `document` with optional members left out or nulled."""
        if not isinstance(document, dict) or "data" not in document:
            return document
        key = f"{method} {path_qs}"
        self._asked[key] += 1
        rng = random.Random(f"sparse|{self._seed}|{key}|{self._asked[key]}")
        kind = kind_of_route(route_template)
        thinned: dict[str, Any] = {}
        for member, value in document.items():
            if member == "data":
                thinned[member] = _thin_value(rng, value, kind)
            elif rng.random() >= LEAVE_OUT:
                thinned[member] = value
        return thinned


def _thin_value(rng: random.Random, value: Any, kind: str) -> Any:
    if isinstance(value, list):
        return [_thin_value(rng, item, kind) for item in value]
    if isinstance(value, dict):
        return _thin_object(rng, value, kind)
    return value


def _thin_object(rng: random.Random, value: dict[str, Any], kind: str) -> dict[str, Any]:
    nullable = NULLABLE.get(kind, frozenset())
    thinned: dict[str, Any] = {}
    for member, child in value.items():
        if member == "id":
            thinned[member] = child
            continue
        draw = rng.random()
        if draw < LEAVE_OUT:
            continue
        if draw < LEAVE_OUT + SET_NULL and member in nullable:
            thinned[member] = None
            continue
        if member == "custom_data":
            thinned[member] = child  # free keys: nothing in them is v2's to thin
            continue
        child_kind = CHILD_KINDS.get((kind, member), "other")
        thinned[member] = _thin_value(rng, child, child_kind)
    return thinned
