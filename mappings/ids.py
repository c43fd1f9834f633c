"""Identifiers: which v1 id names which v2 object.

- Jobs and applications keep their v2 ids (``job_…``, ``ap_…``).
- v2 has no candidates: the person lives in each application's ``personal_info``.
  Candidate ``ca_X`` is the person on application ``ap_X``: stateless and reversible.
  Drafts from ``POST /v1/candidates`` get a fresh ``ca_`` id that the store remembers.
- v2 notes and files have no id at all; v1 clients need one, so each gets a stable
  ``no_``/``fi_`` id hashed from (application id, created_at or name, occurrence).
  v2 guarantees neither member: a missing one hashes as ``""``, so the n-th undated note
  (unnamed file) of an application keeps its id while v2 keeps their order; items that
  are null in the list are skipped and count for nothing (see ``mappings.notes``/``files``).
  A create's answer shows one note or file, not its position: the shell finds the
  position when it may not be 0 (``proxy.v1_routes.notes``/``files``), so the id it
  answers is the one every listing gives.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from typing import Final

PATH_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
CANDIDATE_PREFIX: Final = "ca_"
APPLICATION_PREFIX: Final = "ap_"
_ALPHANUMERIC: Final = string.ascii_letters + string.digits


def is_valid_path_id(value: str) -> bool:
    """Path ids are checked before any upstream call; anything else is a 404."""
    return PATH_ID.fullmatch(value) is not None


def candidate_id_for_application(application_id: str) -> str:
    """``ap_D3kC…`` -> ``ca_D3kC…`` (ids of another shape get the prefix prepended)."""
    if application_id.startswith(APPLICATION_PREFIX):
        return CANDIDATE_PREFIX + application_id[len(APPLICATION_PREFIX) :]
    return CANDIDATE_PREFIX + application_id


def application_id_for_candidate(candidate_id: str) -> str | None:
    """``ca_D3kC…`` -> ``ap_D3kC…``; ``None`` when the id is not a candidate id."""
    if not candidate_id.startswith(CANDIDATE_PREFIX) or len(candidate_id) <= len(CANDIDATE_PREFIX):
        return None
    return APPLICATION_PREFIX + candidate_id[len(CANDIDATE_PREFIX) :]


def new_draft_candidate_id() -> str:
    """A fresh ``ca_`` + 20 alphanumerics, the shape of a v2 id, for a stored draft."""
    return CANDIDATE_PREFIX + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(20))


def short_hash(*parts: str) -> str:
    """20 hex digits of BLAKE2b over the parts joined by the unit separator."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10)
    return digest.hexdigest()


def note_id(application_id: str, created_at: str, occurrence: int) -> str:
    """Stable note id: the n-th note of this application created at this instant."""
    return "no_" + short_hash(application_id, created_at, str(occurrence))


def file_id(application_id: str, name: str, occurrence: int) -> str:
    """Stable file id: the n-th file of this application with this name."""
    return "fi_" + short_hash(application_id, name, str(occurrence))


def occurrences(keys: list[str]) -> list[int]:
    """For each key, how many earlier entries share it (0 for the first)."""
    seen: dict[str, int] = {}
    result = []
    for key in keys:
        count = seen.get(key, 0)
        result.append(count)
        seen[key] = count + 1
    return result
