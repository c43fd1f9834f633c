"""The v1 request bodies as pydantic models, checked after decoding and before planning.

Cadwyn's rule: a request is validated against the *old* version's schema first. Every
problem of a body is found in one pass and named with the v1 parameter the client sent
(``candidate[first_name]``, ``content[education]``, ``job``), so a 400 lists them all
(contract §3 rev 2). Input stays lenient: members v2 has no place for are allowed (the
migration report counts them), form strings such as ``"1"``/``"true"`` are booleans, and a
blank form field means "no value".

The same models give ``GET /v1/openapi.json`` its request schemas (``proxy.openapi``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from mappings.dates import is_calendar_date
from mappings.errors import ParamError, V1ValidationError
from mappings.files import FILE_TYPES, MAX_UPLOAD_BYTES
from mappings.forms import coerce_bool
from mappings.ids import PATH_ID, is_valid_path_id

PATH_ID_PATTERN: Final = f"^{PATH_ID.pattern}$"
# v1 content keys that are top-level fields in v2 (mappings.applications splits them).
CONTENT_FIELDS: Final = (
    "education",
    "experience",
    "assignment",
    "pronouns",
    "skype",
    "facebook",
    "twitter",
    "linkedin",
    "github",
    "website",
)


def _problem(message: str) -> PydanticCustomError:
    # The text is the v1 message as the 400 shows it (no format placeholders in it).
    return PydanticCustomError("v1", message.replace("{", "(").replace("}", ")"))


def _text(value: Any) -> str | None:
    """Text, or a number sent as text; blank is no value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _problem("must be text")
    return str(value).strip() or None


def _calendar_date(value: str | None) -> str | None:
    if value is not None and not is_calendar_date(value):
        raise _problem("must be a date as YYYY-MM-DD")
    return value


def _present(value: str | None) -> str | None:
    if value is None:
        raise _problem("is required")
    return value


def _email(value: str | None) -> str | None:
    if value is not None and "@" not in value:
        raise _problem("must be an email address")
    return value


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    try:
        return coerce_bool(value, "")
    except V1ValidationError:
        raise _problem("must be true or false") from None


def _job_id(value: Any) -> str | None:
    """A job id, or an embedded job object's id; blank is no job."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        value = value.get("id")
    if not isinstance(value, str) or not is_valid_path_id(value):
        raise _problem("is not a job id")
    return value


def _sources(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _problem("must be a list of source names")
    return value


STAGE_PROBLEM: Final = "must be a stage name"


def stage_name(value: Any) -> str | None:
    """A stage as v1 sends it: its name, or an object with a name; empty is none.
    Anything else raises ``ValueError``."""
    if isinstance(value, Mapping):
        value = value.get("name")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(STAGE_PROBLEM)
    return value


def _stage(value: Any) -> str | None:
    try:
        return stage_name(value)
    except ValueError:
        raise _problem(STAGE_PROBLEM) from None


def content_pairs(content: Any) -> dict[str, Any]:
    """v1 ``content``: an object, or a list of ``{key|name|label, value}`` items."""
    if isinstance(content, list):
        pairs: dict[str, Any] = {}
        for item in content:
            if not isinstance(item, Mapping):
                raise _problem("must be an object")
            key = item.get("key", item.get("name", item.get("label")))
            if not isinstance(key, str):
                raise _problem("items need a key")
            pairs[key] = item.get("value")
        return pairs
    if not isinstance(content, Mapping):
        raise _problem("must be an object")
    return dict(content)


def _content(value: Any) -> dict[str, Any] | None:
    return None if value is None else content_pairs(value)


_STRING: Final = {"type": "string"}
Text = Annotated[str | None, BeforeValidator(_text), WithJsonSchema(_STRING)]
CalendarDate = Annotated[
    str | None,
    BeforeValidator(_text),
    AfterValidator(_calendar_date),
    WithJsonSchema({"type": "string", "format": "date"}),
]
RequiredText = Annotated[
    str | None,
    BeforeValidator(_text),
    AfterValidator(_present),
    WithJsonSchema({"type": "string", "pattern": r"\S"}),
]
RequiredEmail = Annotated[
    str | None,
    BeforeValidator(_text),
    AfterValidator(_present),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email"}),
]
Flag = Annotated[bool | None, BeforeValidator(_flag), WithJsonSchema({"type": "boolean"})]
JobId = Annotated[
    str | None,
    BeforeValidator(_job_id),
    WithJsonSchema({"type": "string", "pattern": PATH_ID_PATTERN}),
]
Content = Annotated[
    dict[str, Any] | None,
    BeforeValidator(_content),
    WithJsonSchema(
        {
            "type": "object",
            "description": ", ".join(CONTENT_FIELDS)
            + ", and any other key (stored as v2 custom_data).",
            "additionalProperties": True,
        }
    ),
]


def _published(schema: dict[str, Any], model: type[Any]) -> None:
    """The JSON schema as published: the members a client must send are required (a
    blank one counts as missing), and "no value" is no default."""
    for member in schema.get("properties", {}).values():
        if isinstance(member, dict) and member.get("default", 0) is None:
            del member["default"]
    required = getattr(model, "required_members", ())
    if required:
        schema["required"] = list(required)


class V1Request(BaseModel):
    """A v1 body. Unknown members are allowed (lenient input; the report counts them)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_published)
    required_members: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def kind_problems(cls, body: Mapping[str, Any]) -> list[ParamError]:
        """Problems of members whose model depends on what the client sent (an id or an
        object); none by default."""
        return []


class Person(V1Request):
    """A candidate's fields, each optional (an update changes only what is sent)."""

    first_name: Text = None
    last_name: Text = None
    email: Text = None
    phone_number: Text = None
    city: Text = None
    country: Text = None
    date_of_birth: CalendarDate = None
    photo: Text = None
    phone: Text = Field(None, description="Alias of phone_number.")
    birth_date: CalendarDate = Field(None, description="Alias of date_of_birth.")


class NewPerson(Person):
    """What creating a candidate needs: a name and an email address."""

    required_members = ("first_name", "last_name", "email")
    first_name: RequiredText = Field(None, validate_default=True)
    last_name: RequiredText = Field(None, validate_default=True)
    email: RequiredEmail = Field(None, validate_default=True)


PERSON_MEMBERS: Final = frozenset(Person.model_fields)


class CandidateCreate(NewPerson):
    """``POST /v1/candidates``: the person's fields (also accepted under ``candidate``)."""

    @classmethod
    def problems_of(cls, body: Mapping[str, Any]) -> list[ParamError]:
        source = body.get("candidate")
        return _problems(NewPerson, source if isinstance(source, Mapping) else body, "")


def _candidate_schema() -> dict[str, Any]:
    return {
        "description": "A candidate id (ca_…) or the candidate's fields.",
        "oneOf": [
            {"type": "string", "pattern": PATH_ID_PATTERN},
            NewPerson.model_json_schema(),
        ],
    }


class ApplicationCreate(V1Request):
    """``POST /v1/applications``: a job, and a candidate id or the candidate's fields
    (sent under ``candidate`` or at the top level)."""

    required_members = ("candidate",)
    job: JobId = Field(None, description="Job id (alias: job_id).")
    job_id: JobId = Field(None, description="Alias of job.")
    candidate: Annotated[Any, WithJsonSchema(_candidate_schema())] = None
    content: Content = None
    sourced: Flag = None
    sources: Annotated[
        list[str] | None,
        BeforeValidator(_sources),
        WithJsonSchema({"type": "array", "items": _STRING}),
    ] = None

    @classmethod
    def kind_problems(cls, body: Mapping[str, Any]) -> list[ParamError]:
        candidate = body.get("candidate")
        if isinstance(candidate, str):
            if is_valid_path_id(candidate):
                return []
            return [ParamError("candidate", "is not a candidate id")]
        if isinstance(candidate, Mapping):
            return _problems(NewPerson, candidate, "candidate")
        if candidate is not None:
            return [ParamError("candidate", "must be a candidate id or object")]
        if not any(_text_or_none(body.get(k)) for k in PERSON_MEMBERS if k in body):
            return [ParamError("candidate", "is required: a candidate id or candidate fields")]
        return _problems(NewPerson, body, "")


def _text_or_none(value: Any) -> bool:
    """Whether a top-level member counts as a candidate field the client sent."""
    try:
        return _text(value) is not None
    except PydanticCustomError:
        return True  # sent, if wrongly: its own problem is named


class ApplicationUpdate(V1Request):
    """``PUT``/``POST``/``PATCH /v1/applications/{id}``: the whole application as v1 sent
    it, or any part; members left out or null stay as they are; read-only members are
    ignored."""

    job: JobId = None
    job_id: JobId = Field(None, description="Alias of job.")
    stage: Annotated[
        str | None,
        BeforeValidator(_stage),
        WithJsonSchema({**_STRING, "description": "Stage name."}),
    ] = None
    candidate: Annotated[Any, WithJsonSchema(Person.model_json_schema())] = None
    content: Content = None
    sourced: Flag = None

    @classmethod
    def kind_problems(cls, body: Mapping[str, Any]) -> list[ParamError]:
        candidate = body.get("candidate")
        return _problems(Person, candidate, "candidate") if isinstance(candidate, Mapping) else []


def _note_text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        raise _problem("is required")
    return value


def _author(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _problem("must be text")
    return value


class NoteCreate(V1Request):
    """``POST …/notes``: the note's text (alias ``note``), its author's name (alias
    ``display_name``; the bridge's default author when none) and whether it is sensitive."""

    required_members = ("body",)
    body: Annotated[
        str | None,
        BeforeValidator(_note_text),
        WithJsonSchema({"type": "string", "minLength": 1}),
    ] = Field(None, validate_default=True)
    name: Annotated[str | None, BeforeValidator(_author), WithJsonSchema(_STRING)] = Field(
        None, description="Author shown in Homerun."
    )
    is_sensitive: Flag = False

    @classmethod
    def with_aliases(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        """``note`` stands for ``body`` and ``display_name`` for ``name`` when those are
        absent; a falsy ``is_sensitive`` is false."""
        folded = dict(body)
        folded["body"] = body.get("body", body.get("note"))
        folded["name"] = body.get("name", body.get("display_name"))
        folded["is_sensitive"] = body.get("is_sensitive") or False
        return folded


class FileUpload(V1Request):
    """``POST …/files``: a multipart upload, streamed (``proxy.uploads`` reads it)."""

    required_members = ("file",)
    file: Annotated[
        bytes | None,
        WithJsonSchema(
            {
                "type": "string",
                "format": "binary",
                "description": f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB at most.",
            }
        ),
    ] = None
    type: Annotated[
        str, WithJsonSchema({"type": "string", "enum": list(FILE_TYPES), "default": FILE_TYPES[0]})
    ] = FILE_TYPES[0]


def _v1_name(prefix: str, location: Sequence[int | str]) -> str:
    """A pydantic error location as the v1 parameter the client sent."""
    parts = [str(part) for part in location]
    if prefix:
        parts.insert(0, prefix)
    if not parts:
        return prefix or "body"
    return parts[0] + "".join(f"[{part}]" for part in parts[1:])


def _problems(model: type[BaseModel], body: Mapping[str, Any], prefix: str) -> list[ParamError]:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return [ParamError(_v1_name(prefix, e["loc"]), e["msg"]) for e in exc.errors()]
    return []


def _content_problems(body: Mapping[str, Any]) -> list[ParamError]:
    """A content member v2 keeps as a top-level field must be text (one problem each)."""
    try:
        content = _content(body.get("content"))
    except PydanticCustomError:
        return []  # named by the model already
    return [
        ParamError(f"content[{key}]", "must be text")
        for key, value in (content or {}).items()
        if key in CONTENT_FIELDS and value not in (None, "") and not isinstance(value, str)
    ]


def request_problems(model: type[BaseModel], body: Mapping[str, Any]) -> list[ParamError]:
    """Every problem of a decoded v1 body against its request model, with v1 names."""
    if model is FileUpload:
        return []  # streamed: proxy.uploads checks its parts as they come
    if model is NoteCreate:
        return _problems(NoteCreate, NoteCreate.with_aliases(body), "")
    if model is CandidateCreate:
        return CandidateCreate.problems_of(body)
    problems = _problems(model, body, "")
    if issubclass(model, V1Request):
        problems.extend(model.kind_problems(body))
    if "content" in model.model_fields:
        problems.extend(_content_problems(body))
    return problems


def check_request(model: type[BaseModel] | None, body: Mapping[str, Any]) -> None:
    """400 naming every problem of the body, or nothing when it conforms."""
    if model is None:
        return
    problems = request_problems(model, body)
    if problems:
        raise V1ValidationError(problems)
