"""``GET /v1/openapi.json``: the v1 face as an OpenAPI 3.1 document.

Generated from the one declaration of the v1 face (``mappings.v1_endpoints``: paths,
parameters, statuses, request and response models), the same table the routes are
registered from, so the document cannot promise a route, a parameter or a shape the code
does not serve.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from mappings import v1_models, v1_requests
from mappings.v1_endpoints import ENDPOINTS, Param, V1Endpoint
from proxy import __version__

_REF = "#/components/schemas/"
_BODY_TYPES: Final = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)
_STATUS_TEXTS: Final = {
    400: "Invalid request (errors name the v1 parameters)",
    401: "Missing or unknown key, or the bridge's v2 key was rejected",
    403: "The bridge's v2 key lacks a scope, or the plan has no API access",
    404: "No such object or endpoint",
    405: "Wrong method (see Allow)",
    410: "Gone: API v2 cannot do this any more",
    413: "Body too large",
    429: "Rate limit spent (see Retry-After)",
    502: "API v2 unreachable or answered something that is not v2",
    503: "API v2 unavailable",
    504: "API v2 too slow",
}
_REQUEST_MODELS: Final = (
    v1_requests.CandidateCreate,
    v1_requests.ApplicationCreate,
    v1_requests.ApplicationUpdate,
    v1_requests.NoteCreate,
    v1_requests.FileUpload,
)


def _parameter(param: Param) -> list[dict[str, Any]]:
    """A declared parameter, and each alias as a parameter of its own."""
    documented: dict[str, Any] = {"name": param.name, "in": param.location}
    if param.location == "path":
        documented["required"] = True
    if param.description:
        documented["description"] = param.description
    documented["schema"] = dict(param.schema)
    if param.schema.get("type") == "array":
        documented |= {"style": "form", "explode": True}
    aliases = [
        {
            "name": alias,
            "in": param.location,
            "description": f"Alias of {param.name}.",
            "schema": {k: v for k, v in param.schema.items() if k != "default"},
        }
        for alias in param.aliases
    ]
    return [documented, *aliases]


def _list_of(model: str) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": _REF + "ListEnvelope"},
            {"properties": {"data": {"type": "array", "items": {"$ref": _REF + model}}}},
        ]
    }


def _responses(entry: type[V1Endpoint]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    answer = entry.answer
    for status in entry.statuses():
        if answer is not None and status == answer.status:
            name = answer.model.__name__
            schema = _list_of(name) if answer.is_list else {"$ref": _REF + name}
            text = answer.text
        else:
            schema, text = {"$ref": _REF + "Error"}, _STATUS_TEXTS[status]
        responses[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": schema}},
        }
    return responses


def _operation(entry: type[V1Endpoint]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": entry.summary, "responses": _responses(entry)}
    params = [doc for param in entry.parameters for doc in _parameter(param)]
    if params:
        op["parameters"] = params
    if entry.request is not None:
        ref = {"$ref": _REF + entry.request.__name__}
        types = ("multipart/form-data",) if entry.upload else _BODY_TYPES
        op["requestBody"] = {
            "required": True,
            "content": {content_type: {"schema": ref} for content_type in types},
        }
    return op


@cache
def v1_openapi_document() -> dict[str, Any]:
    """The document, generated from ``mappings.v1_endpoints`` (paths in table order)."""
    paths: dict[str, dict[str, Any]] = {}
    for entry in ENDPOINTS:
        paths.setdefault(entry.path, {})[entry.method.lower()] = _operation(entry)
    schemas: dict[str, Any] = {}
    for model in (
        *_REQUEST_MODELS,
        v1_models.Job,
        v1_models.Candidate,
        v1_models.ApplicationSummary,
        v1_models.Application,
        v1_models.WrittenApplication,
        v1_models.Note,
        v1_models.File,
        v1_models.Error,
        v1_models.ListEnvelope,
    ):
        schema = model.model_json_schema(ref_template=_REF + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Homerun API v1 (served by homerun-bridge)",
            "version": __version__,
            "description": "The retired Homerun API v1, translated to API v2 by homerun-bridge. "
            "Every response carries Deprecation, Link (rel=deprecation) and X-Request-Id.",
        },
        "components": {
            "securitySchemes": {
                "v1Basic": {"type": "http", "scheme": "basic"},
                "v1Bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": schemas,
        },
        "security": [{"v1Basic": []}, {"v1Bearer": []}],
        "paths": paths,
    }
