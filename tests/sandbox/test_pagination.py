"""Laravel paginator output: page window, empty pages, bounds of page and perPage."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.pagination import page_window
from tests.conftest_sandbox import RunningSandbox
from tests.sandbox.support import call, details_params


@pytest.mark.parametrize(
    ("current", "last", "expected"),
    [
        (1, 1, [1]),
        (3, 13, list(range(1, 14))),  # 13 pages still fit without separators
        (1, 14, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 13, 14]),
        (7, 28, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 27, 28]),
        (8, 28, [1, 2, None, 5, 6, 7, 8, 9, 10, 11, None, 27, 28]),
        (15, 28, [1, 2, None, 12, 13, 14, 15, 16, 17, 18, None, 27, 28]),
        (21, 28, [1, 2, None, 18, 19, 20, 21, 22, 23, 24, None, 27, 28]),
        (22, 28, [1, 2, None, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28]),
        (28, 28, [1, 2, None, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28]),
        (500, 28, [1, 2, None, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28]),
    ],
)
def test_page_window_matches_laravel_url_window(
    current: int, last: int, expected: list[int | None]
) -> None:
    assert page_window(current, last) == expected


def labels(body: dict[str, Any]) -> list[str]:
    return [link["label"] for link in body["meta"]["links"]]


async def test_long_ranges_are_compressed_with_separators(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    total = len(sandbox_server.state.applications)
    assert total >= 14 * 10  # ten per page gives a long range
    last = -(-total // 10)
    status, body = await call(sandbox_client, "GET", "/v2/job-applications?perPage=10&page=15")
    assert status == 200
    assert labels(body) == [
        "&laquo; Previous", "1", "2", "...", "12", "13", "14", "15", "16", "17", "18", "...",
        str(last - 1), str(last), "Next &raquo;",
    ]  # fmt: skip
    separators = [link for link in body["meta"]["links"] if link["label"] == "..."]
    assert separators == [{"url": None, "label": "...", "active": False}] * 2
    path = body["meta"]["path"]
    assert body["meta"]["links"][1]["url"] == f"{path}?page=1"


async def test_first_and_last_pages(sandbox_client: Any, sandbox_server: RunningSandbox) -> None:
    total = len(sandbox_server.state.applications)
    status, first = await call(sandbox_client, "GET", "/v2/job-applications")
    assert status == 200 and len(first["data"]) == 15
    assert first["meta"]["links"][0]["url"] is None
    assert first["links"]["prev"] is None
    last_page = first["meta"]["last_page"]
    assert last_page == -(-total // 15)

    status, last = await call(sandbox_client, "GET", f"/v2/job-applications?page={last_page}")
    assert status == 200
    assert len(last["data"]) == total - (last_page - 1) * 15
    assert last["meta"]["to"] == total
    assert last["meta"]["links"][-1] == {"url": None, "label": "Next &raquo;", "active": False}
    assert last["links"]["next"] is None


async def test_a_page_past_the_end_is_empty_not_an_error(sandbox_client: Any) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/vacancies?page=99&perPage=100")
    assert status == 200
    assert body["data"] == []
    meta = body["meta"]
    assert (meta["current_page"], meta["from"], meta["to"], meta["last_page"]) == (
        99,
        None,
        None,
        1,
    )
    assert body["links"]["prev"] == f"{meta['path']}?page=98"
    assert body["links"]["next"] is None
    assert labels(body) == ["&laquo; Previous", "1", "Next &raquo;"]


async def test_empty_result_still_has_one_page(sandbox_client: Any) -> None:
    status, body = await call(
        sandbox_client, "GET", "/v2/job-applications?filter[vacancy_id]=job_none"
    )
    assert status == 200
    assert body["data"] == []
    assert body["meta"]["total"] == 0 and body["meta"]["last_page"] == 1
    assert body["meta"]["from"] is None and body["meta"]["to"] is None


async def test_page_urls_drop_other_query_parameters(sandbox_client: Any) -> None:
    status, body = await call(
        sandbox_client,
        "GET",
        "/v2/job-applications?perPage=5&page=2&include[]=stage&filter[stage]=New",
    )
    assert status == 200
    urls = [link["url"] for link in body["meta"]["links"] if link["url"]] + list(
        filter(None, body["links"].values())
    )
    assert urls and all(url.split("?")[1].startswith("page=") and "&" not in url for url in urls)


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("perPage=0", ["perPage"]),
        ("perPage=101", ["perPage"]),
        ("perPage=abc", ["perPage"]),
        ("perPage=-5", ["perPage"]),
        ("page=0", ["page"]),
        ("page=1.5", ["page"]),
        ("page=", []),
        ("page=0&perPage=500", ["page", "perPage"]),
        (f"page={2**63}", ["page"]),
    ],
)
async def test_out_of_range_paging_is_a_400_naming_the_parameter(
    sandbox_client: Any, query: str, params: list[str]
) -> None:
    status, body = await call(sandbox_client, "GET", f"/v2/vacancies?{query}")
    if not params:
        assert status == 200
        return
    assert status == 400
    assert body["message"] == "The given input was invalid"
    assert details_params(body) == params


async def test_per_page_hundred_is_the_maximum(sandbox_client: Any) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/job-applications?perPage=100")
    assert status == 200 and len(body["data"]) == 100 and body["meta"]["per_page"] == 100
