"""The v1 face is one table (``mappings.v1_endpoints``): routes, ``/v1/openapi.json``, the
report's hints and the query parameters a handler reads all come from it."""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from mappings import jobs
from mappings.pagination import PageCall
from mappings.v1_endpoints import (
    ENDPOINTS,
    PAGING,
    ListJobs,
    Param,
    V1Endpoint,
    V1List,
    _checked,
    methods_of,
)
from proxy import v1_router, v1_routes
from proxy.openapi import v1_openapi_document
from proxy.usage import replacement_for
from tests.proxy.conftest import FULL, Harness


async def test_document_is_valid_and_lists_every_route(harness: Harness) -> None:
    async with await harness.get("/v1/openapi.json", auth=None) as response:
        assert response.status == 200
        document = await response.json()
    assert document == v1_openapi_document()
    validate(document)
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == {(e.method, e.path) for e in ENDPOINTS}


def test_the_router_serves_exactly_the_table() -> None:
    app = web.Application()
    v1_router.register(app.router)
    served = {
        (route.method, route.resource.canonical.replace("{_slash}", ""))
        for route in app.router.routes()
        if route.resource is not None
    }
    table = {(e.method, e.path) for e in ENDPOINTS}
    gets = {("HEAD", path) for method, path in table if method == "GET"}
    options = {("OPTIONS", e.path) for e in ENDPOINTS}
    assert served == table | gets | options


def _names(param: Param) -> list[str]:
    return list(param.names)


@pytest.mark.parametrize("entry", ENDPOINTS, ids=lambda e: e.route())
def test_each_operation_is_generated_from_its_row(entry: type[V1Endpoint]) -> None:
    operation = v1_openapi_document()["paths"][entry.path][entry.method.lower()]
    assert operation["summary"] == entry.summary
    documented = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
    declared = [(name, p.location) for p in entry.parameters for name in _names(p)]
    assert documented == declared
    assert sorted(int(s) for s in operation["responses"]) == list(entry.statuses())
    if entry.answer is not None:
        success = operation["responses"][str(int(entry.answer.status))]
        schema = success["content"]["application/json"]["schema"]
        assert entry.answer.model.__name__ in str(schema)
    if entry.request is None:
        assert "requestBody" not in operation
    else:
        refs = {c["schema"]["$ref"] for c in operation["requestBody"]["content"].values()}
        assert refs == {"#/components/schemas/" + entry.request.__name__}
    assert entry.changelog()  # the docstring is the changelog line


def test_expand_is_documented_only_where_a_handler_reads_it() -> None:
    where = {
        (path, method)
        for path, operations in v1_openapi_document()["paths"].items()
        for method, operation in operations.items()
        for p in operation.get("parameters", [])
        if p["name"] == "expand[]"
    }
    assert where == {("/v1/applications/{id}", "get")}
    operation = v1_openapi_document()["paths"]["/v1/applications/{id}"]["get"]
    expand = next(p for p in operation["parameters"] if p["name"] == "expand[]")
    assert expand["schema"]["items"]["enum"] == ["notes"]


def test_every_list_documents_cursor_paging_and_only_lists_do() -> None:
    """Contract §4 rev 2: ``starting_after`` / ``ending_before`` on every list."""
    document = v1_openapi_document()
    cursors = {"starting_after", "ending_before"}
    lists = set()
    for entry in ENDPOINTS:
        operation = document["paths"][entry.path][entry.method.lower()]
        names = {p["name"] for p in operation.get("parameters", [])}
        if entry.answer is not None and entry.answer.is_list:
            lists.add(entry.route())
            assert cursors | {"limit", "per_page", "page", "offset"} <= names, entry.route()
        else:
            assert not cursors & names, entry.route()
    assert len(lists) == 7


def test_a_list_row_must_be_paged_as_every_list_is() -> None:
    class Unpaged(V1List):
        """A list that forgot the paging parameters."""

        path, handler = "/v1/unpaged", "list_unpaged"
        summary, replacement, hint = "Unpaged", "none", "none"
        answer = ListJobs.answer

    with pytest.raises(TypeError, match="PAGING"):
        _checked((Unpaged,))

    class NotAListRow(V1Endpoint):
        """A list not declared as a V1List."""

        method, path, handler = "GET", "/v1/stray-list", "list_strays"
        summary, replacement, hint = "Strays", "none", "none"
        parameters = PAGING
        answer = ListJobs.answer

    with pytest.raises(TypeError, match="V1List"):
        _checked((NotAListRow,))


def test_the_report_reads_its_hints_from_the_table() -> None:
    for entry in ENDPOINTS:
        assert replacement_for(entry.route()) == (entry.replacement, entry.hint)
    assert replacement_for("HEAD /v1/jobs") == replacement_for("GET /v1/jobs")
    # The replacement names every include the bridge itself sends for the v1 call.
    sent = jobs.list_vacancies_request(PageCall(1, 100), None).query
    v2_call, _hint = replacement_for("GET /v1/jobs")
    for key, value in sent:
        if key == "include[]":
            assert f"include[]={value}" in v2_call


def test_a_row_without_a_handler_or_a_handler_without_a_row_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Orphan(V1Endpoint):
        """A row nobody answers."""

        method, path, handler = "GET", "/v1/orphans", "list_orphans"
        summary, replacement, hint = "Orphans", "none", "none"

    monkeypatch.setattr(v1_router, "ENDPOINTS", (*ENDPOINTS, Orphan))
    with pytest.raises(LookupError, match="list_orphans"):
        v1_router._bind()
    monkeypatch.setattr(v1_router, "ENDPOINTS", ENDPOINTS)

    async def list_strays(request: web.Request) -> web.Response:
        raise AssertionError("never routed")

    list_strays.__module__ = v1_routes.jobs.__name__
    monkeypatch.setattr(v1_routes.jobs, "list_strays", list_strays, raising=False)
    with pytest.raises(LookupError, match="list_strays"):
        v1_router._bind()


def test_every_handler_of_the_module_has_a_row() -> None:
    handlers = {
        name
        for module in v1_routes.MODULES
        for name, value in vars(module).items()
        if inspect.iscoroutinefunction(value)
        and not name.startswith("_")
        and value.__module__ == module.__name__
    }
    assert handlers == {e.handler for e in ENDPOINTS}


# --- every documented query parameter is read by its handler ---------------------------

# A value that makes each parameter's reading observable: a 400 naming it, or an answer
# that differs from the one without it.
INVALID: dict[str, str] = {
    "page": "0",
    "per_page": "0",
    "limit": "101",
    "offset": "-1",
    "status": "bogus",
    "job": "not an id!",
    "job_id": "not an id!",
    # An id no list served: a cursor the bridge cannot place.
    "starting_after": "ap_neverListed",
    "ending_before": "ap_neverListed",
}


async def _ids(harness: Harness) -> dict[str, str]:
    async with await harness.get("/v1/applications") as response:
        listed = (await response.json())["data"]
    application = next(a for a in listed if a["job"] is not None)
    return {
        "/v1/jobs/{id}": application["job"]["id"],
        "/v1/candidates/{id}": application["candidate"]["id"],
        "/v1/applications/{id}": application["id"],
    }


def _url(entry: type[V1Endpoint], ids: dict[str, str]) -> str:
    path = entry.path
    for prefix, value in ids.items():
        path = path.replace(prefix, prefix.replace("{id}", quote(value)))
    return path.replace("{file_id}", "fi_x")


async def _json(harness: Harness, url: str) -> tuple[int, Any]:
    async with await harness.get(url) as response:
        return response.status, await response.json()


QUERY_READS = [
    (entry, name)
    for entry in ENDPOINTS
    if entry.method == "GET"
    for param in entry.query_parameters()
    for name in param.names
]


@pytest.mark.parametrize(
    ("entry", "name"), QUERY_READS, ids=[f"{e.route()} {n}" for e, n in QUERY_READS]
)
async def test_each_documented_query_parameter_is_read(
    harness: Harness, entry: type[V1Endpoint], name: str
) -> None:
    url = _url(entry, await _ids(harness))
    if name in INVALID:
        status, body = await _json(harness, f"{url}?{quote(name)}={quote(INVALID[name])}")
        assert status == 400, body
        assert [e["param"] for e in body["errors"]] == [name]
    elif name == "stage":
        _status, every = await _json(harness, url)
        status, none = await _json(harness, f"{url}?stage=No+such+stage")
        assert every["total"] > 0 and (status, none["total"]) in ((200, 0), (400, None))
    elif name in ("expand[]", "expand"):
        _status, plain = await _json(harness, url)
        status, expanded = await _json(harness, f"{url}?{quote(name)}=notes")
        assert status == 200 and "notes" not in plain and isinstance(expanded["notes"], list)
    else:
        pytest.fail(f"no probe for the documented parameter {name}: add one to INVALID")


async def test_undocumented_query_parameters_go_unread(harness: Harness) -> None:
    ids = await _ids(harness)
    for entry in ENDPOINTS:
        if entry.method != "GET":
            continue
        documented = {n for p in entry.query_parameters() for n in p.names}
        extra = "&".join(f"{k}={quote(v)}" for k, v in INVALID.items() if k not in documented)
        status, body = await _json(harness, f"{_url(entry, ids)}?{extra}")
        assert status == 200, (entry.route(), body)


# --- HEAD and OPTIONS ----------------------------------------------------------------------


async def test_options_answers_each_path_with_its_methods_and_needs_no_key(
    harness: Harness,
) -> None:
    ids = await _ids(harness)
    for path in dict.fromkeys(e.path for e in ENDPOINTS):
        url = _url(next(e for e in ENDPOINTS if e.path == path), ids)
        for variant in (url, url + "/"):
            async with harness.http.options(harness.url(variant)) as response:
                assert response.status == 204, variant
                assert response.headers["Allow"] == ", ".join((*methods_of(path), "OPTIONS"))
                assert response.headers["Deprecation"] == "@1701388800"
                assert await response.read() == b""


async def test_every_get_row_answers_head_as_its_get_without_a_body(harness: Harness) -> None:
    ids = await _ids(harness)
    for entry in ENDPOINTS:
        if entry.method != "GET":
            continue
        url = harness.url(_url(entry, ids))
        async with harness.http.get(url, auth=FULL) as got:
            await got.read()
        async with harness.http.head(url, auth=FULL) as head:
            assert head.status == got.status, entry.route()
            assert head.headers["Content-Type"] == got.headers["Content-Type"]
            assert await head.read() == b""
