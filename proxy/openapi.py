"""``GET /v1/openapi.json``: the v1 face as an OpenAPI 3.1 document.

Built from the route table the server actually registers and from the pydantic
models the tests hold every v1 body to, so the document cannot promise a route or a
shape the code does not serve.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from mappings import v1_models
from proxy import __version__

_REF = "#/components/schemas/"
_ID_PATTERN: Final = "^[A-Za-z0-9_-]{1,64}$"

_PAGINATION: Final = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100},
    },
    {
        "name": "limit",
        "in": "query",
        "description": "Alias of per_page.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    {
        "name": "offset",
        "in": "query",
        "description": "0-based item offset; wins over page.",
        "schema": {"type": "integer", "minimum": 0},
    },
]
_EXPAND: Final = {
    "name": "expand[]",
    "in": "query",
    "schema": {"type": "array", "items": {"type": "string", "enum": ["notes", "job", "candidate"]}},
    "style": "form",
    "explode": True,
}

_CANDIDATE_FIELDS: Final = {
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "email": {"type": "string"},
    "phone_number": {"type": "string"},
    "city": {"type": "string"},
    "country": {"type": "string"},
    "date_of_birth": {"type": "string", "format": "date"},
    "photo": {"type": "string"},
}
# What creating a candidate needs (mappings.candidates.require_personal_fields): a
# name and an email address; a blank value counts as missing.
_REQUIRED_PERSON: Final = {
    "type": "object",
    "required": ["first_name", "last_name", "email"],
    "properties": {
        **_CANDIDATE_FIELDS,
        "first_name": {"type": "string", "pattern": r"\S"},
        "last_name": {"type": "string", "pattern": r"\S"},
        "email": {"type": "string", "format": "email"},
    },
}
_CONTENT: Final = {
    "type": "object",
    "description": "education, experience, assignment, pronouns, skype, facebook, twitter, "
    "linkedin, github, website, and any other key (stored as v2 custom_data).",
    "additionalProperties": True,
}
_REQUEST_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "CandidateCreate": _REQUIRED_PERSON,
    "ApplicationCreate": {
        "type": "object",
        "required": ["candidate"],
        "properties": {
            "job": {"type": "string", "description": "Job id (alias: job_id)."},
            "candidate": {
                "description": "A candidate id (ca_…) or the candidate's fields.",
                "oneOf": [
                    {"type": "string", "pattern": _ID_PATTERN},
                    _REQUIRED_PERSON,
                ],
            },
            "content": _CONTENT,
            "sourced": {"type": "boolean"},
            "sources": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ApplicationUpdate": {
        "type": "object",
        "description": "The whole application as v1 sent it, or any part: fields left out "
        "or null stay as they are; read-only members are ignored.",
        "properties": {
            "job": {"type": "string"},
            "stage": {"type": "string", "description": "Stage name."},
            "candidate": {"type": "object", "properties": _CANDIDATE_FIELDS},
            "content": _CONTENT,
            "sourced": {"type": "boolean"},
        },
    },
    "NoteCreate": {
        "type": "object",
        "required": ["body"],
        "properties": {
            "body": {"type": "string", "minLength": 1},
            "name": {"type": "string", "description": "Author shown in Homerun."},
            "is_sensitive": {"type": "boolean", "default": False},
        },
    },
    "FileUpload": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "25 MB at most."},
            "type": {"type": "string", "enum": ["resume", "assignment"], "default": "resume"},
        },
    },
}


def _body(schema: str) -> dict[str, Any]:
    ref = {"$ref": _REF + schema}
    return {
        "required": True,
        "content": {
            "application/json": {"schema": ref},
            "application/x-www-form-urlencoded": {"schema": ref},
            "multipart/form-data": {"schema": ref},
        },
    }


def _ok(status: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {status: {"description": text, "content": {"application/json": {"schema": schema}}}}


def _list_of(model: str) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": _REF + "ListEnvelope"},
            {"properties": {"data": {"type": "array", "items": {"$ref": _REF + model}}}},
        ]
    }


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
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
    common = (401, 429, 502, 503, 504)
    return {
        str(s): {
            "description": texts[s],
            "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
        }
        for s in sorted({*statuses, *common})
    }


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": _ID_PATTERN},
    }


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    upload: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = _body(body)
    if upload:
        op["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"$ref": _REF + "FileUpload"}}},
        }
    return op


@cache
def v1_openapi_document() -> dict[str, Any]:
    job = {"$ref": _REF + "Job"}
    candidate = {"$ref": _REF + "Candidate"}
    application = {"$ref": _REF + "Application"}
    note = {"$ref": _REF + "Note"}
    file = {"$ref": _REF + "File"}
    id_param, file_param = _path_param("id"), _path_param("file_id")
    status_param = {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": ["open", "private", "draft", "closed"]},
    }
    app_filters = [
        {"name": "job", "in": "query", "schema": {"type": "string", "pattern": _ID_PATTERN}},
        {"name": "stage", "in": "query", "schema": {"type": "string"}},
    ]

    def notes_ops(what: str) -> dict[str, Any]:
        return {
            "get": _operation(
                f"Notes of {what}",
                {**_ok("200", _list_of("Note"), "Notes"), **_errors(400, 403, 404)},
                params=[id_param, *_PAGINATION],
            ),
            "post": _operation(
                f"Add a note to {what}",
                {**_ok("201", note, "Created"), **_errors(400, 403, 404, 413)},
                params=[id_param],
                body="NoteCreate",
            ),
        }

    def files_ops(what: str) -> dict[str, Any]:
        return {
            "get": _operation(
                f"Files of {what}",
                {**_ok("200", _list_of("File"), "Files"), **_errors(400, 403, 404)},
                params=[id_param, *_PAGINATION],
            ),
            "post": _operation(
                f"Upload a file to {what} (streamed; type defaults to resume)",
                {**_ok("201", file, "Uploaded"), **_errors(400, 403, 404, 413)},
                params=[id_param],
                upload=True,
            ),
        }

    update = _operation(
        "Update an application (whole or partial object; nothing is cleared by omission)",
        {**_ok("200", application, "Updated"), **_errors(400, 403, 404, 413)},
        params=[id_param],
        body="ApplicationUpdate",
    )
    paths = {
        "/v1/jobs": {
            "get": _operation(
                "List jobs",
                {**_ok("200", _list_of("Job"), "Jobs"), **_errors(400, 403)},
                params=[*_PAGINATION, status_param, _EXPAND],
            )
        },
        "/v1/jobs/{id}": {
            "get": _operation(
                "Get a job",
                {**_ok("200", job, "The job"), **_errors(403, 404)},
                params=[id_param, _EXPAND],
            )
        },
        "/v1/candidates": {
            "get": _operation(
                "List candidates (one per application)",
                {**_ok("200", _list_of("Candidate"), "Candidates"), **_errors(400, 403)},
                params=[*_PAGINATION, _EXPAND],
            ),
            "post": _operation(
                "Create a candidate (a draft until an application uses it)",
                {**_ok("201", candidate, "Created"), **_errors(400, 413)},
                body="CandidateCreate",
            ),
        },
        "/v1/candidates/{id}": {
            "get": _operation(
                "Get a candidate",
                {**_ok("200", candidate, "The candidate"), **_errors(403, 404)},
                params=[id_param, _EXPAND],
            )
        },
        "/v1/candidates/{id}/notes": notes_ops("the candidate's application"),
        "/v1/candidates/{id}/files": files_ops("the candidate's application"),
        "/v1/applications": {
            "get": _operation(
                "List applications (items carry no content and no files)",
                {
                    **_ok("200", _list_of("ApplicationSummary"), "Applications"),
                    **_errors(400, 403),
                },
                params=[*_PAGINATION, *app_filters, _EXPAND],
            ),
            "post": _operation(
                "Create an application",
                {
                    **_ok("201", {"$ref": _REF + "WrittenApplication"}, "Created"),
                    **_errors(400, 403, 413),
                },
                body="ApplicationCreate",
            ),
        },
        "/v1/applications/{id}": {
            "get": _operation(
                "Get an application (notes with expand[]=notes)",
                {**_ok("200", application, "The application"), **_errors(403, 404)},
                params=[id_param, _EXPAND],
            ),
            "put": update,
            "post": update,
            "patch": update,
        },
        "/v1/applications/{id}/notes": notes_ops("an application"),
        "/v1/applications/{id}/files": files_ops("an application"),
        "/v1/applications/{id}/files/{file_id}": {
            "delete": _operation(
                "Delete a file: always 410, API v2 cannot delete files",
                _errors(404, 410),
                params=[id_param, file_param],
            )
        },
    }
    schemas: dict[str, Any] = dict(_REQUEST_SCHEMAS)
    for model in (
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
