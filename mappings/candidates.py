"""Candidates (v1) are the person on a job application (v2).

Changes from v1 to v2, each undone here:
- v2 has no candidate object: the person is folded into every job application's
  ``personal_info``. The v1 candidate ``ca_X`` is the person on application ``ap_X``,
  so there is one candidate per application.
- v1 created a candidate first and linked applications to it; v2 creates the person
  together with the application. ``POST /v1/candidates`` therefore stores a draft in
  the bridge until an application uses it; from then on the draft answers with the
  person of the first application made from it (:func:`used_draft_candidate`).
- v2 requests take the personal fields flat (``first_name`` …) where v1 nested them
  under ``candidate[...]``.

v2 guarantees only the application's ``id`` (``homerun-v2.openapi.yaml``): a missing
(absent or null) ``personal_info`` reads as a person with no fields, so every personal
field of the v1 candidate is null, and so is ``created_at`` when the application has
none. ``id`` and ``applications`` always come from the application id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mappings.dates import is_calendar_date, to_unix_seconds
from mappings.errors import ParamError, V1ValidationError
from mappings.ids import candidate_id_for_application
from mappings.v2_models import JobApplication, PersonalInfo

_NOBODY: Final = PersonalInfo()

PERSONAL_FIELDS: Final = (
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "city",
    "country",
    "date_of_birth",
    "photo",
)
REQUIRED_PERSONAL_FIELDS: Final = ("first_name", "last_name", "email")
# Names a v1 client may plausibly have used for the same field (lenient input).
PERSONAL_ALIASES: Final = {"phone": "phone_number", "birth_date": "date_of_birth"}


def _v1_name(prefix: str, field: str) -> str:
    return f"{prefix}[{field}]" if prefix else field


def personal_fields_from_v1(
    source: Mapping[str, Any], prefix: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """v1 candidate fields -> flat v2 personal fields, and the v1 name of each.

    ``None`` values are dropped (v1 objects resent whole carry them; v2 clears nothing
    by omission). Values must be text; ``date_of_birth`` must be ``YYYY-MM-DD``.
    """
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    errors: list[ParamError] = []
    for key, value in source.items():
        field = PERSONAL_ALIASES.get(key, key)
        if field not in PERSONAL_FIELDS or value is None:
            continue
        name = _v1_name(prefix, key)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            errors.append(ParamError(name, "must be text"))
            continue
        text = str(value).strip()
        if not text:
            continue  # an empty form field means "no value", never "clear it"
        if field == "date_of_birth" and text and not is_calendar_date(text):
            errors.append(ParamError(name, "must be a date as YYYY-MM-DD"))
            continue
        fields[field] = text
        names[field] = name
    if errors:
        raise V1ValidationError(errors)
    return fields, names


def require_personal_fields(fields: Mapping[str, Any], prefix: str) -> None:
    """v2 cannot create an application without a name and an email."""
    errors = [
        ParamError(_v1_name(prefix, f), "is required")
        for f in REQUIRED_PERSONAL_FIELDS
        if not fields.get(f)
    ]
    email = fields.get("email")
    if email and "@" not in str(email):
        errors.append(ParamError(_v1_name(prefix, "email"), "must be an email address"))
    if errors:
        raise V1ValidationError(errors)


def application_to_candidate(application: JobApplication) -> dict[str, Any]:
    """The person on a v2 job application as the v1 candidate object."""
    person = application.personal_info or _NOBODY
    return {
        "id": candidate_id_for_application(application.id),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone_number": person.phone_number,
        "city": person.city,
        "country": person.country,
        "date_of_birth": person.date_of_birth,
        "photo": person.photo,
        "created_at": to_unix_seconds(application.created_at),
        "applications": [application.id],
    }


def draft_candidate(body: Mapping[str, Any], draft_id: str, created_at: int) -> dict[str, Any]:
    """``POST /v1/candidates``: validate the person now, so the application later can't fail
    on it, and shape the stored draft as a v1 candidate with no applications yet."""
    source = body.get("candidate") if isinstance(body.get("candidate"), Mapping) else body
    assert isinstance(source, Mapping)
    fields, _ = personal_fields_from_v1(source, "")
    require_personal_fields(fields, "")
    return {
        "id": draft_id,
        **{f: fields.get(f) for f in PERSONAL_FIELDS},
        "created_at": created_at,
        "applications": [],
    }


def used_draft_candidate(draft: Mapping[str, Any], application: JobApplication) -> dict[str, Any]:
    """A draft that an application used, as v1 candidate: the person as that application
    holds it now (v2 is where the person is updated from then on), the draft's own id,
    creation time and applications. A field v2 leaves out keeps the draft's value: v2's
    answer cannot tell a field left out from one cleared."""
    person = application_to_candidate(application)
    return {
        "id": draft["id"],
        **{f: draft.get(f) if person[f] is None else person[f] for f in PERSONAL_FIELDS},
        "created_at": draft.get("created_at"),
        "applications": list(draft.get("applications") or []),
    }


def personal_fields_of_candidate(candidate: Mapping[str, Any]) -> dict[str, Any]:
    """A stored draft (v1 candidate shape) -> the flat v2 personal fields it carries."""
    return {f: candidate[f] for f in PERSONAL_FIELDS if candidate.get(f) is not None}


def personal_fields_of_application(application: JobApplication) -> dict[str, Any]:
    """An existing application's person -> flat v2 personal fields, to apply again."""
    person = (application.personal_info or _NOBODY).model_dump()
    return {f: person[f] for f in PERSONAL_FIELDS if person.get(f) is not None}
