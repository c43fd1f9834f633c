"""Checks a v1 body against ``GET /v1/openapi.json`` (what the bridge publishes), for tests.

    v1_body_violations("Job", body)                       # one component schema
    v1_body_violations(list_of("Note"), body)             # a v1 list envelope of notes
    v1_response_violations("GET", "/v1/jobs/job_1", 200, body)   # the operation's schema

Empty lists mean the body conforms. The document is ``proxy.openapi.v1_openapi_document()``,
the very one the server answers; schemas are JSON Schema 2020-12 (OpenAPI 3.1).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from proxy.openapi import v1_openapi_document

V1_URI = "urn:homerun-v1-openapi"


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(v1_openapi_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(V1_URI, resource)
    return registry


def _localised(schema: Any) -> Any:
    """``#/components/...`` refs of the document, made absolute for the registry."""
    if isinstance(schema, dict):
        return {
            key: (V1_URI + value if key == "$ref" and value.startswith("#") else _localised(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_localised(item) for item in schema]
    return schema


def list_of(component: str) -> dict[str, Any]:
    """The schema of a v1 list envelope of ``component`` items."""
    ref = f"{V1_URI}#/components/schemas/"
    return {
        "allOf": [
            {"$ref": ref + "ListEnvelope"},
            {"properties": {"data": {"type": "array", "items": {"$ref": ref + component}}}},
        ]
    }


@functools.cache
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json), registry=_registry())


def _violations(schema: Any, body: Any) -> list[str]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def v1_body_violations(schema: str | dict[str, Any], body: Any) -> list[str]:
    """How ``body`` departs from a component schema (by name) or from ``schema``."""
    if isinstance(schema, str):
        schema = {"$ref": f"{V1_URI}#/components/schemas/{schema}"}
    return _violations(schema, body)


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "/?$"), template)
        for template in v1_openapi_document()["paths"]
    ]


def v1_response_violations(method: str, path: str, status: int, body: Any) -> list[str]:
    """How a v1 answer departs from what the document declares for its operation."""
    path = path.split("?", 1)[0]
    paths = v1_openapi_document()["paths"]
    templates = [template for pattern, template in _operations() if pattern.match(path)]
    # A literal segment beats a parameter (``/v1/jobs`` is not ``/v1/jobs/{id}``).
    templates.sort(key=lambda t: t.count("{"))
    if not templates:
        return [f"{path} matches no documented path"]
    operation = paths[templates[0]].get(method.lower() if method != "HEAD" else "get")
    if operation is None:
        return [f"{method} {templates[0]} is not documented"]
    response = operation["responses"].get(str(status))
    if response is None:
        return [f"status {status} is not documented for {method} {templates[0]}"]
    schema = response["content"]["application/json"]["schema"]
    return _violations(_localised(schema), body)
