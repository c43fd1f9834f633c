"""Errors in v1 terms, and the translation of v2 errors into them.

The error hierarchy (what the shell raises and catches; code catches a class, never
compares a status):

    V1Error                       an answer in v1 shape: status + message (+ errors, headers)
    ├── V1ValidationError         400 naming the v1 parameters that are wrong
    ├── V2BadRequest              400: v2 refused the values (renamed to the v1 parameters)
    ├── KeyRejected               401: v2 rejected the bridge's v2 key
    ├── AccessDenied              403
    │   ├── ScopeMissing          403: the v2 key lacks a scope the endpoint's row declares
    │   └── PlanWithoutApi        403: the Homerun plan has no API access
    ├── NotFound                  404: no such object (v2 said so, or the id cannot be one)
    ├── Gone                      410: v2 cannot do this any more (deleting files)
    ├── BodyTooLarge              413
    ├── RateLimited               429 with Retry-After (v2's limit or the bridge's budget)
    ├── Unavailable               503: retry later
    │   ├── UpstreamUnavailable   503: v2 says it is unavailable
    │   ├── UpstreamBusy          503: the bridge's v2 connections are all busy (not sent)
    │   ├── StoreUnavailable      503: the shared store is needed and away
    │   └── ShuttingDown          503: the bridge is stopping
    └── UpstreamError             502/504: v2 did not give a usable answer
        ├── UpstreamUnreachable   502: no connection, or the connection dropped
        ├── UpstreamInvalid       502: an answer that is not v2 (unexpected status, body)
        ├── AnswerTooLarge        502: an answer over the bridge's bound, not read
        ├── UpstreamTimeout       504: v2 (or a gateway before it) did not answer in time
        └── OutcomeUnknown        the failure's status (502, 503, 504): a write was sent and
                                  no sure answer came back, so it may have happened upstream

Each class fixes its status and, where it can, a default message; a raiser that knows
more (which object, which bound, which scope) says it, and adds the headers.

v1 body: ``{"message": "...", "status": <int>}``; validation failures add
``"errors": [{"param": "<v1 name>", "message": "..."}]``, where the param is the name
the client sent (``candidate[first_name]``, ``content[x]``, ``job``), never v2's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from mappings.plan import V2Request

V1_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ParamError:
    """One bad v1 parameter."""

    param: str
    message: str


class V1Error(Exception):
    """An error answer in v1 shape."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Sequence[ParamError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status if status in V1_STATUSES else HTTPStatus.BAD_GATEWAY
        self.message = message
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return v1_error_body(self.status, self.message, self.errors)


class _Answer(V1Error):
    """A named v1 error: the class fixes the status and says what it means by default.

    A raiser passes a message only when it knows more than the class does; an answer
    never has an empty message (the status's own phrase is the last resort)."""

    code: ClassVar[int]
    default_message: ClassVar[str] = ""

    def __init__(
        self,
        message: str = "",
        errors: Sequence[ParamError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        text = message or self.default_message or HTTPStatus(self.code).phrase
        super().__init__(self.code, text, errors, headers)


class V2BadRequest(_Answer):
    code, default_message = HTTPStatus.BAD_REQUEST, "The request was invalid"


class KeyRejected(_Answer):
    code = HTTPStatus.UNAUTHORIZED
    default_message = (
        "Homerun rejected the bridge's API v2 key (revoked or expired); "
        "ask the operator of this bridge to renew it"
    )


class AccessDenied(_Answer):
    code = HTTPStatus.FORBIDDEN


class ScopeMissing(AccessDenied):
    """Its message names the scopes the v1 endpoint's row declares (``proxy.app`` words it
    with ``needing``, whichever of the row's v2 calls was refused)."""

    @classmethod
    def needing(cls, scopes: Sequence[str]) -> ScopeMissing:
        named = f"the scope {' and '.join(scopes)}" if scopes else "a scope"
        return cls(f"The bridge's API v2 key lacks {named} needed for this call")


class PlanWithoutApi(AccessDenied):
    default_message = "Homerun refused the call: the account's plan does not include API access"


class NotFound(_Answer):
    code, default_message = HTTPStatus.NOT_FOUND, "Not found"


class Gone(_Answer):
    code = HTTPStatus.GONE


class BodyTooLarge(_Answer):
    code, default_message = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request body is too large"


class RateLimited(_Answer):
    code = HTTPStatus.TOO_MANY_REQUESTS
    default_message = "Too many requests: Homerun's rate limit is spent; retry later"


class Unavailable(_Answer):
    code = HTTPStatus.SERVICE_UNAVAILABLE


class UpstreamUnavailable(Unavailable):
    default_message = "Homerun API v2 is unavailable; retry later"


class UpstreamBusy(Unavailable):
    """Its message says how many connections the bridge has; nothing was sent."""


class StoreUnavailable(Unavailable):
    default_message = "The bridge's shared store is unavailable"


class ShuttingDown(Unavailable):
    """``proxy.lifecycle`` says whether a write may already have reached v2."""


class UpstreamError(_Answer):
    code = HTTPStatus.BAD_GATEWAY


class UpstreamUnreachable(UpstreamError):
    default_message = "Homerun API v2 could not be reached"


class UpstreamInvalid(UpstreamError):
    default_message = "Homerun API v2 answered with a body the bridge cannot read"


class AnswerTooLarge(UpstreamError):
    """Its message names the bound the answer went over."""


class UpstreamTimeout(UpstreamError):
    code, default_message = HTTPStatus.GATEWAY_TIMEOUT, "Homerun API v2 did not answer in time"


class OutcomeUnknown(UpstreamError):
    """A write was handed to v2 and no sure answer came back (a 5xx, a timeout or a
    dropped connection after sending): it may have happened, so it is never resent.

    It answers as the failure it stands for (``seen``): that status, message and
    headers, so a client sees what it saw before; a handler may catch the class."""

    def __init__(self, seen: V1Error) -> None:
        V1Error.__init__(self, seen.status, seen.message, seen.errors, seen.headers)
        self.seen = seen


class V1ValidationError(V1Error):
    """400: the v1 request itself is wrong; nothing was sent upstream."""

    def __init__(self, errors: Sequence[ParamError], message: str = "") -> None:
        text = message or "; ".join(f"{e.param}: {e.message}" for e in errors)
        super().__init__(HTTPStatus.BAD_REQUEST, text or "The request was invalid", errors)


T = TypeVar("T")


class Problems:
    """The problems of several checks of one request, gathered so that its 400 names
    every one (contract §3), not the first group found."""

    def __init__(self) -> None:
        self.errors: list[ParamError] = []

    def check(self, step: Callable[[], T], fallback: T) -> T:
        """``step``'s result; its problems noted and ``fallback`` in its place if it has any."""
        try:
            return step()
        except V1ValidationError as exc:
            self.errors.extend(exc.errors)
            return fallback

    def raise_any(self) -> None:
        if self.errors:
            raise V1ValidationError(self.errors)


def v1_error_body(status: int, message: str, errors: Sequence[ParamError] = ()) -> dict[str, Any]:
    """The one v1 error shape."""
    body: dict[str, Any] = {"message": message, "status": int(status)}
    if errors:
        body["errors"] = [{"param": e.param, "message": e.message} for e in errors]
    return body


def v1_param_for(v2_param: str, v1_params: Mapping[str, str]) -> str:
    """The v1 name the client used for a v2 parameter named in a v2 400.

    v2 names come as ``first_name``, ``custom_data.driving_licence`` or ``stage.name``.
    The plan records what the client sent for each; ``custom_data.x`` with no record
    is ``content[x]``; anything else keeps its v2 name (better than nothing).
    """
    if v2_param in v1_params:
        return v1_params[v2_param]
    head, _, rest = v2_param.partition(".")
    if head == "custom_data" and rest:
        return v1_params.get(v2_param, f"content[{rest}]")
    if head in v1_params:
        return v1_params[head]
    return v2_param


def _v2_details(body: Any) -> list[tuple[str, str]]:
    if not isinstance(body, dict):
        return []
    details = body.get("details")
    if not isinstance(details, list):
        return []
    pairs = []
    for item in details:
        if isinstance(item, dict):
            param, message = item.get("param"), item.get("message")
            if isinstance(param, str):
                pairs.append((param, message if isinstance(message, str) else "is invalid"))
    return pairs


def _reworded(message: str, v2_param: str, v1_param: str) -> str:
    """v2 messages repeat the v2 field name; a v1 client should read its own name.

    The name comes as sent (``first_name``) or as Laravel's label (``first name``). Only
    the first whole-word mention is the field's name: in "The email field must be a valid
    email address." the second ``email`` is an ordinary word.
    """
    if not v2_param or v2_param == v1_param:
        return message
    spellings = dict.fromkeys((v2_param, v2_param.replace("_", " ")))
    alternatives = "|".join(re.escape(spelling) for spelling in spellings)
    mention = re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w)")
    return mention.sub(lambda _: v1_param, message, count=1)


def v2_error_to_v1(
    status: int,
    body: Any,
    request: V2Request,
    *,
    not_found: str = "Not found",
    retry_after: str | None = None,
) -> V1Error:
    """What an upstream error answer means to the v1 client.

    - 400 -> 400 with each ``details[].param`` renamed to the v1 parameter sent;
    - 401 -> 401: the bridge's own v2 key was rejected (revoked or expired);
    - 402 -> 403: the Homerun plan has no API access;
    - 403 -> 403 naming the v2 scope this call needs (the shell names its v1 row's);
    - 404 -> 404; 429 -> 429 with ``Retry-After``; 503 -> 503;
    - 504 (a gateway in front of v2 timed out) -> 504, as the bridge's own timeout;
    - anything else -> 502.
    """
    if status == HTTPStatus.BAD_REQUEST:
        errors = []
        for v2_param, message in _v2_details(body):
            v1_param = v1_param_for(v2_param, request.v1_params)
            errors.append(ParamError(v1_param, _reworded(message, v2_param, v1_param)))
        return V2BadRequest(errors=errors)
    if status == HTTPStatus.UNAUTHORIZED:
        return KeyRejected(headers={"WWW-Authenticate": 'Basic realm="Homerun API v1"'})
    if status == HTTPStatus.PAYMENT_REQUIRED:
        return PlanWithoutApi()
    if status == HTTPStatus.FORBIDDEN:
        return ScopeMissing.needing(())
    if status == HTTPStatus.NOT_FOUND:
        return NotFound(not_found)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return RateLimited(headers=headers)
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        return UpstreamUnavailable()
    if status == HTTPStatus.GATEWAY_TIMEOUT:
        return UpstreamTimeout()
    return UpstreamInvalid(
        f"Homerun API v2 answered with an unexpected status {status}; retry later",
    )
