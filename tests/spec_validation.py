"""Checks one API v2 response against homerun-v2.openapi.yaml, for tests of sandbox and bridge.

    violations = load_spec_validator().validate(
        "GET", "/vacancies", 200, headers, body_bytes
    )  # [] when the response conforms

It resolves the operation's declared response for the status (following `$ref`s), checks the
status is one the spec declares for that operation (or one its prose documents as INFERRED,
see INFERRED_STATUSES), the JSON content type, the body against the schema (OpenAPI 3.1 schemas
are JSON Schema 2020-12; formats checked), and the rules the schema cannot say: `code` repeats
the status, `details` only on 400, a 204 has no body, 429 carries Retry-After, rate-limit
headers are integers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "homerun-v2.openapi.yaml"
)
SPEC_URI = "urn:homerun-v2-openapi"
UNMATCHED_ROUTE = ""

ERROR_SCHEMA = "/components/schemas/Error"
VALIDATION_ERROR_SCHEMA = "/components/schemas/ValidationErrorBody"
# Statuses the spec's prose documents (as INFERRED) where the OpenAPI entry does not list them.
# spec §6.2 / §11.4: an unknown include value gives 400 on every endpoint that takes include[].
INFERRED_STATUSES: dict[tuple[str, str], dict[int, str]] = {
    ("get", "/vacancies/{vacancy_id}"): {400: VALIDATION_ERROR_SCHEMA},
    ("get", "/job-applications/{job_application_id}"): {400: VALIDATION_ERROR_SCHEMA},
}
# spec §1.1, §10.1: an unknown /v2 path (or a wrong method) is 404 after the key checks.
UNMATCHED_ROUTE_STATUSES = {
    401: ERROR_SCHEMA,
    402: ERROR_SCHEMA,
    404: ERROR_SCHEMA,
    429: ERROR_SCHEMA,
}

RFC3339_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str) or not RFC3339_DATE_TIME.fullmatch(value):
        return not isinstance(value, str)
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    hour, minute, second = (int(part) for part in value[11:19].split(":"))
    return hour < 24 and minute < 60 and second < 61


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(ABSOLUTE_URI.fullmatch(value))


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(EMAIL.fullmatch(value))


for _format, _check in {
    "date-time": _is_date_time,
    "date": _is_date,
    "uri": _is_uri,
    "email": _is_email,
}.items():
    FORMAT_CHECKER.checks(_format)(_check)


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class SpecValidator:
    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        self.spec: dict[str, Any] = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def operations(self) -> list[tuple[str, str]]:
        """(method, path template) of every operation, e.g. ("get", "/vacancies")."""
        return [
            (method, path)
            for path, item in self.spec["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        ]

    def _resolve(self, pointer: str) -> tuple[str, Any]:
        """Follow `$ref`s from a JSON pointer; returns the final pointer and its object."""
        node: Any = self.spec
        for token in pointer.strip("/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        if isinstance(node, dict) and "$ref" in node:
            return self._resolve(node["$ref"].removeprefix("#"))
        return pointer, node

    def _schema_validator(self, pointer: str) -> jsonschema.protocols.Validator:
        if pointer not in self._validators:
            self._validators[pointer] = jsonschema.Draft202012Validator(
                {"$ref": f"{SPEC_URI}#{pointer}"},
                registry=self.registry,
                format_checker=FORMAT_CHECKER,
            )
        return self._validators[pointer]

    def schema_errors(self, schema_pointer: str, instance: Any) -> list[str]:
        validator = self._schema_validator(schema_pointer)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(
                validator.iter_errors(instance), key=lambda e: list(e.absolute_path)
            )
        ]

    def response_schema_pointer(
        self, method: str, route_template: str, status: int
    ) -> tuple[str | None, list[str]]:
        """Pointer to the schema of the JSON body ("" when no body is declared), or None and
        the reason when the status is not allowed for this operation."""
        method = "get" if method.lower() == "head" else method.lower()
        template = route_template.removeprefix("/v2")
        if template == UNMATCHED_ROUTE:
            if status in UNMATCHED_ROUTE_STATUSES:
                return UNMATCHED_ROUTE_STATUSES[status], []
            return None, [f"status {status} for an unknown route (expected one of 401/402/404/429)"]
        item = self.spec["paths"].get(template)
        if item is None or method not in item:
            return None, [f"{method.upper()} {template} is not an operation of the spec"]
        responses = item[method].get("responses", {})
        if str(status) in responses:
            base = f"/paths/{_escape_pointer(template)}/{method}/responses/{status}"
            pointer, response = self._resolve(base)
            if "content" not in response:
                return "", []
            if "application/json" not in response["content"]:
                return None, [f"status {status} declares no application/json content"]
            return f"{pointer}/content/application~1json/schema", []
        inferred = INFERRED_STATUSES.get((method, template), {})
        if status in inferred:
            return inferred[status], []
        declared = ", ".join(sorted(responses))
        return None, [
            f"status {status} is not declared for {method.upper()} {template} ({declared})"
        ]

    def validate(
        self,
        method: str,
        route_template: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        """Every way the response departs from the spec; an empty list when it conforms."""
        pointer, problems = self.response_schema_pointer(method, route_template, status)
        if pointer is None:
            return problems
        lowered = {name.lower(): value for name, value in headers.items()}
        violations = self._header_violations(status, lowered)
        if pointer == "":
            if body:
                violations.append(f"status {status} declares no body but got {len(body)} bytes")
            return violations
        content_type = lowered.get("content-type", "")
        if not content_type.split(";")[0].strip().lower() == "application/json":
            violations.append(f"content type is {content_type!r}, not application/json")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return [*violations, f"body is not JSON: {exc}"]
        violations.extend(self.schema_errors(pointer, document))
        if isinstance(document, dict) and document.get("error") is True:
            if document.get("code") != status:
                violations.append(
                    f"error code {document.get('code')!r} differs from status {status}"
                )
            if "details" in document and status != 400:
                violations.append("details[] present on a non-validation error")
        return violations

    @staticmethod
    def _header_violations(status: int, headers: Mapping[str, str]) -> list[str]:
        violations = []
        for name in (
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "retry-after",
            "x-ratelimit-reset",
        ):
            if name in headers and not re.fullmatch(r"[0-9]+", headers[name]):
                violations.append(f"header {name} is not an integer: {headers[name]!r}")
        if status == 429 and "retry-after" not in headers:
            violations.append("429 without Retry-After")
        return violations


@functools.cache
def load_spec_validator() -> SpecValidator:
    return SpecValidator()


def inline_schema(pointer: str) -> dict[str, Any]:
    """The schema at ``pointer`` (e.g. "/components/schemas/VacancyList") with every
    ``$ref`` replaced by what it names and every ``allOf`` of objects merged into one
    object, for generators that want a plain schema (hypothesis-jsonschema)."""
    spec = load_spec_validator().spec

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target: Any = spec
            for token in node["$ref"].removeprefix("#/").split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            return resolve(target)
        resolved = {key: resolve(value) for key, value in node.items()}
        if "allOf" in resolved and all("properties" in part for part in resolved["allOf"]):
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for part in resolved.pop("allOf"):
                merged["properties"].update(part["properties"])
                merged["required"] += part.get("required", [])
            resolved = {**merged, **resolved}
        return resolved

    root: Any = spec
    for token in pointer.strip("/").split("/"):
        root = root[token]
    return dict(resolve(root))
