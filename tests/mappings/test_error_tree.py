"""Errors are classes under V1Error (the tree in mappings.errors' docstring): each v2 error
becomes a named class with the status it always had, and handlers catch classes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mappings import errors
from mappings.plan import V2Request

CALL = V2Request("GET", "/vacancies")


@pytest.mark.parametrize(
    ("v2_status", "named", "v1_status"),
    [
        (400, errors.V2BadRequest, 400),
        (401, errors.KeyRejected, 401),
        (402, errors.PlanWithoutApi, 403),
        (403, errors.ScopeMissing, 403),
        (404, errors.NotFound, 404),
        (429, errors.RateLimited, 429),
        (503, errors.UpstreamUnavailable, 503),
        (504, errors.UpstreamTimeout, 504),
        (500, errors.UpstreamInvalid, 502),
        (418, errors.UpstreamInvalid, 502),
    ],
)
def test_each_v2_error_is_a_named_class(v2_status: int, named: type, v1_status: int) -> None:
    error = errors.v2_error_to_v1(v2_status, {}, CALL, retry_after="3")
    assert type(error) is named and isinstance(error, errors.V1Error)
    assert error.status == v1_status and error.body()["status"] == v1_status


def test_the_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    classes = [
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.V1Error) and name[0] != "_"
    ]
    assert len(classes) > 15
    for name in classes:
        assert f" {name} " in doc, name
    assert issubclass(errors.UpstreamTimeout, errors.UpstreamError)
    assert errors.UpstreamTimeout("x").status == 504 and errors.StoreUnavailable("x").status == 503


def test_handlers_catch_classes_and_never_compare_a_status() -> None:
    shell = Path(__file__).resolve().parents[2] / "proxy"
    modules = ["candidates.py", "calls.py", "embeds.py", "paging.py", "v1_input.py"]
    modules += [str(p.relative_to(shell)) for p in sorted((shell / "v1_routes").glob("*.py"))]
    assert len(modules) > 8
    for module in modules:
        tree = ast.parse((shell / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
                assert not (
                    node.left.attr == "status"
                    and isinstance(node.left.value, ast.Name)
                    and node.left.value.id == "exc"
                ), f"{module}:{node.lineno} compares exc.status"


@pytest.mark.parametrize(
    "seen",
    [
        errors.UpstreamUnreachable(),
        errors.UpstreamUnavailable(),
        errors.UpstreamTimeout("Homerun API v2 did not answer within 5 s"),
        errors.RateLimited(headers={"Retry-After": "3"}),
    ],
)
def test_an_unknown_outcome_answers_as_the_failure_it_stands_for(seen: errors.V1Error) -> None:
    unknown = errors.OutcomeUnknown(seen)
    assert isinstance(unknown, errors.UpstreamError) and unknown.seen is seen
    assert (unknown.status, unknown.message, unknown.headers) == (
        seen.status,
        seen.message,
        seen.headers,
    )
    assert unknown.body() == seen.body()


def test_a_class_says_what_it_means_unless_the_raiser_knows_more() -> None:
    assert errors.NotFound().message == "Not found"
    assert errors.NotFound("No such job").message == "No such job"
    # A class without a default message still never answers an empty one.
    assert errors.Gone().body() == {"message": "Gone", "status": 410}
