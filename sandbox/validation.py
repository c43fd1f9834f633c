"""Validation of JSON request bodies: create and update a job application, add a note.

Rules follow the spec's request schemas (§8.5, §8.7, §8.9) with Laravel habits where the spec
is silent: empty strings count as missing (ConvertEmptyStringsToNull), optional text fields may
be null, unknown keys are ignored, and every problem is reported at once as `details[]`.
Whether a referenced vacancy or stage exists is not checked here: that is a lookup (404 on
update, 400 on create) done by the state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sandbox.errors import FieldError, ValidationFailed

SHORT_TEXT_LIMIT = 255
LONG_TEXT_LIMIT = 65535
URL_LIMIT = 2048
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# A checker returns the cleaned value, or raises _Invalid with the message for details[].
Checker = Callable[[str, Any], Any]


class _Invalid(Exception):
    pass


def _label(field: str) -> str:
    return field.replace("_", " ")


def _text(limit: int) -> Checker:
    def check(field: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise _Invalid(f"The {_label(field)} field must be a string.")
        if len(value) > limit:
            raise _Invalid(
                f"The {_label(field)} field must not be greater than {limit} characters."
            )
        return value

    return check


def _email(field: str, value: Any) -> Any:
    if not isinstance(value, str) or len(value) > SHORT_TEXT_LIMIT or not EMAIL.fullmatch(value):
        raise _Invalid(f"The {_label(field)} field must be a valid email address.")
    return value


def _date(field: str, value: Any) -> Any:
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"The {_label(field)} field must match the format Y-m-d.")


def is_web_url(value: str) -> bool:
    if len(value) > URL_LIMIT or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _url(field: str, value: Any) -> Any:
    if not isinstance(value, str) or not is_web_url(value):
        raise _Invalid(f"The {_label(field)} field must be a valid URL.")
    return value


def _boolean(field: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise _Invalid(f"The {_label(field)} field must be true or false.")
    return value


def _object(field: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise _Invalid(f"The {_label(field)} field must be an object.")
    return value


@dataclass(frozen=True)
class FieldRule:
    check: Checker
    required: bool = False
    # Laravel's ConvertEmptyStringsToNull plus a `nullable` rule: "" and null mean "no value".
    nullable: bool = True


PERSONAL_FIELDS: dict[str, FieldRule] = {
    "first_name": FieldRule(_text(SHORT_TEXT_LIMIT), required=True, nullable=False),
    "last_name": FieldRule(_text(SHORT_TEXT_LIMIT), required=True, nullable=False),
    "email": FieldRule(_email, required=True, nullable=False),
    "date_of_birth": FieldRule(_date),
    "city": FieldRule(_text(SHORT_TEXT_LIMIT)),
    "country": FieldRule(_text(SHORT_TEXT_LIMIT)),
    "phone_number": FieldRule(_text(SHORT_TEXT_LIMIT)),
    "photo": FieldRule(_url),
    "sourced": FieldRule(_boolean, nullable=False),
    "experience": FieldRule(_text(LONG_TEXT_LIMIT)),
    "education": FieldRule(_text(LONG_TEXT_LIMIT)),
    "pronouns": FieldRule(_text(SHORT_TEXT_LIMIT)),
    "skype": FieldRule(_text(SHORT_TEXT_LIMIT)),
    "facebook": FieldRule(_url),
    "twitter": FieldRule(_url),
    "linkedin": FieldRule(_url),
    "github": FieldRule(_url),
    "website": FieldRule(_url),
    "assignment": FieldRule(_text(LONG_TEXT_LIMIT)),
    "custom_data": FieldRule(_object, nullable=False),
}


def _check_fields(
    body: Mapping[str, Any], rules: Mapping[str, FieldRule], *, creating: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """Cleaned values of the fields present in `body`, and the problems found."""
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field, rule in rules.items():
        if field not in body:
            if creating and rule.required:
                errors.append(FieldError(field, f"The {_label(field)} field is required."))
            continue
        value = body[field]
        if isinstance(value, str) and value == "":
            value = None
        if value is None:
            if rule.required:
                errors.append(FieldError(field, f"The {_label(field)} field is required."))
            elif rule.nullable:
                cleaned[field] = None
            else:
                errors.append(FieldError(field, rule_null_message(field, rule)))
            continue
        try:
            cleaned[field] = rule.check(field, value)
        except _Invalid as invalid:
            errors.append(FieldError(field, str(invalid)))
    return cleaned, errors


def rule_null_message(field: str, rule: FieldRule) -> str:
    try:
        rule.check(field, None)
    except _Invalid as invalid:
        return str(invalid)
    return f"The {_label(field)} field must not be null."


def _check_vacancy_id(
    body: Mapping[str, Any], cleaned: dict[str, Any], errors: list[FieldError]
) -> None:
    if "vacancy_id" not in body:
        return
    value = body["vacancy_id"]
    if value is None or value == "":
        cleaned["vacancy_id"] = None
    elif isinstance(value, str):
        cleaned["vacancy_id"] = value
    else:
        errors.append(FieldError("vacancy_id", "The vacancy id field must be a string."))


def validate_create(body: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned fields of `POST /job-applications`; raises ValidationFailed listing all problems."""
    cleaned, errors = _check_fields(body, PERSONAL_FIELDS, creating=True)
    _check_vacancy_id(body, cleaned, errors)
    if "sources" in body and body["sources"] is not None:
        sources = body["sources"]
        if not isinstance(sources, list):
            errors.append(FieldError("sources", "The sources field must be an array."))
        else:
            for position, source in enumerate(sources):
                if not isinstance(source, str) or not source or len(source) > SHORT_TEXT_LIMIT:
                    errors.append(
                        FieldError(f"sources.{position}", "Each source must be a non-empty string.")
                    )
            cleaned["sources"] = [source for source in sources if isinstance(source, str)]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def validate_update(body: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned fields of `PATCH /job-applications/{id}`: only the fields sent, all optional."""
    cleaned, errors = _check_fields(body, PERSONAL_FIELDS, creating=False)
    _check_vacancy_id(body, cleaned, errors)
    if "stage" in body:
        stage = body["stage"]
        if not isinstance(stage, dict):
            errors.append(FieldError("stage", "The stage field must be an object."))
        elif not isinstance(stage.get("name"), str) or not stage["name"].strip():
            message = (
                "The stage.name field is required."
                if stage.get("name") in (None, "")
                else "The stage.name field must be a string."
            )
            errors.append(FieldError("stage.name", message))
        else:
            cleaned["stage"] = stage["name"]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@dataclass(frozen=True)
class NoteInput:
    note: str
    display_name: str
    is_sensitive: bool


NOTE_FIELDS: dict[str, FieldRule] = {
    "note": FieldRule(_text(LONG_TEXT_LIMIT), required=True, nullable=False),
    "display_name": FieldRule(_text(SHORT_TEXT_LIMIT), required=True, nullable=False),
    "is_sensitive": FieldRule(_boolean, nullable=False),
}


def validate_note(body: Mapping[str, Any]) -> NoteInput:
    cleaned, errors = _check_fields(body, NOTE_FIELDS, creating=True)
    if errors:
        raise ValidationFailed(errors)
    return NoteInput(
        note=cleaned["note"],
        display_name=cleaned["display_name"],
        is_sensitive=cleaned.get("is_sensitive", False),
    )
