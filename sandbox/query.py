"""Query-string conventions of API v2 lists: `page`/`perPage`, `filter[...]` and `include[]`.

Each reader collects `FieldError`s instead of raising at the first problem, so a request with
several bad parameters gets one 400 naming all of them, as Laravel's validator does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from multidict import MultiMapping

from sandbox.errors import FieldError
from sandbox.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE

DIGITS = re.compile(r"[0-9]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INCLUDE_KEY = re.compile(r"include(\[[0-9]*\])?")
# PHP_INT_MAX: Laravel's integer rule rejects anything larger.
LARGEST_PAGE = 2**63 - 1


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int


def last_value(query: MultiMapping[str], name: str) -> str | None:
    """PHP keeps the last of repeated plain parameters; so do we."""
    values = query.getall(name, [])
    return values[-1] if values else None


def read_page_request(query: MultiMapping[str], errors: list[FieldError]) -> PageRequest:
    page = _read_bounded_int(query, "page", 1, 1, LARGEST_PAGE, errors)
    per_page = _read_bounded_int(query, "perPage", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, errors)
    return PageRequest(page=page, per_page=per_page)


def _read_bounded_int(
    query: MultiMapping[str], name: str, default: int, low: int, high: int, errors: list[FieldError]
) -> int:
    raw = last_value(query, name)
    if raw is None or raw == "":
        return default
    if not DIGITS.fullmatch(raw):
        errors.append(FieldError(name, f"The {name} field must be an integer."))
        return default
    value = int(raw)
    if value < low:
        errors.append(FieldError(name, f"The {name} field must be at least {low}."))
        return default
    if value > high:
        errors.append(FieldError(name, f"The {name} field must not be greater than {high}."))
        return default
    return value


def read_filter(query: MultiMapping[str], name: str) -> list[str] | None:
    """Values of `filter[name]`, comma-separated; None when the filter is absent or empty."""
    raw = last_value(query, f"filter[{name}]")
    if raw is None:
        return None
    values = [value.strip() for value in raw.split(",") if value.strip()]
    return values or None


def read_enum_filter(
    query: MultiMapping[str], name: str, allowed: Iterable[str], errors: list[FieldError]
) -> list[str] | None:
    values = read_filter(query, name)
    if values is None:
        return None
    allowed_set = set(allowed)
    invalid = [value for value in values if value not in allowed_set]
    if invalid:
        errors.append(
            FieldError(
                f"filter.{name}",
                f"The selected filter.{name} is invalid: {', '.join(invalid)}. "
                f"Allowed: {', '.join(sorted(allowed_set))}.",
            )
        )
        return None
    return values


def read_date_filter(query: MultiMapping[str], name: str, errors: list[FieldError]) -> date | None:
    values = read_filter(query, name)
    if values is None:
        return None
    raw = ",".join(values)
    parsed: date | None = None
    if ISO_DATE.fullmatch(raw):
        try:
            parsed = date.fromisoformat(raw)
        except ValueError:
            parsed = None
    if parsed is None:
        errors.append(
            FieldError(f"filter.{name}", f"The filter.{name} field must match the format Y-m-d.")
        )
    return parsed


def requested_includes(query: MultiMapping[str]) -> list[str]:
    """Every include asked for, in order, from `include[]=a&include[]=b`, `include=a,b` and
    `include[0]=a`; the spec says clients send more than one of these forms."""
    seen: dict[str, None] = {}
    for key, raw in query.items():
        if INCLUDE_KEY.fullmatch(key):
            for value in raw.split(","):
                if value.strip():
                    seen[value.strip()] = None
    return list(seen)


def check_includes(
    requested: list[str], allowed: tuple[str, ...], errors: list[FieldError]
) -> frozenset[str]:
    unknown = [value for value in requested if value not in allowed]
    if unknown:
        errors.append(
            FieldError(
                "include",
                f"The selected include is invalid: {', '.join(unknown)}. "
                f"Allowed: {', '.join(allowed)}.",
            )
        )
    return frozenset(value for value in requested if value in allowed)
