"""Forms: Stripe-style bracket pairs become the nested body; form strings become booleans."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.errors import V1ValidationError
from mappings.forms import coerce_bool, decode_bracket_pairs, expand_values


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {}),
        ([("job", "job_A")], {"job": "job_A"}),
        (
            [("candidate[email]", "a@b.c"), ("candidate[first_name]", "Ann")],
            {"candidate": {"email": "a@b.c", "first_name": "Ann"}},
        ),
        ([("a[b][c][d]", "deep")], {"a": {"b": {"c": {"d": "deep"}}}}),
        ([("expand[]", "job"), ("expand[]", "notes")], {"expand": ["job", "notes"]}),
        ([("a[b][]", "1"), ("a[b][]", "2")], {"a": {"b": ["1", "2"]}}),
        # Indexed keys become a list in index order, whatever order they came in.
        ([("tags[1]", "b"), ("tags[0]", "a")], {"tags": ["a", "b"]}),
        (
            [("content[0][key]", "x"), ("content[0][value]", "1"), ("content[1][key]", "y")],
            {"content": [{"key": "x", "value": "1"}, {"key": "y"}]},
        ),
        # Mixed digit and word keys stay an object.
        ([("m[0]", "a"), ("m[x]", "b")], {"m": {"0": "a", "x": "b"}}),
        # A repeated plain key keeps its last value.
        ([("stage", "New"), ("stage", "Offer")], {"stage": "Offer"}),
        ([("candidate[city]", "A"), ("candidate[city]", "B")], {"candidate": {"city": "B"}}),
        # Unbalanced or odd brackets: the key is kept whole rather than guessed at.
        ([("a[b", "1")], {"a[b": "1"}),
        ([("a]b", "1")], {"a]b": "1"}),
        ([("a[b]c", "1")], {"a[b]c": "1"}),
        ([("[a]", "1")], {"[a]": "1"}),
        ([("a[b[c]]", "1")], {"a[b[c]]": "1"}),
        ([("content[note]", "")], {"content": {"note": ""}}),
    ],
)
def test_bracket_pairs_decode_to_nested_values(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    assert decode_bracket_pairs(pairs) == expected


def _error(pairs: list[tuple[str, str]], **limits: int) -> dict[str, Any]:
    with pytest.raises(V1ValidationError) as raised:
        decode_bracket_pairs(pairs, **limits)
    assert raised.value.status == 400
    body: dict[str, Any] = raised.value.body()
    return body


@pytest.mark.parametrize(
    ("pairs", "param", "message"),
    [
        ([("a", "1"), ("a[b]", "2")], "a[b]", "is given both as a value and as an object"),
        ([("a[b]", "1"), ("a", "2")], "a", "is given both as a value and as an object"),
        ([("a", "1"), ("a[]", "2")], "a[]", "is given both as a value and as a list"),
        ([("a[]", "1"), ("a", "2")], "a", "is given both as a value and as an object"),
        ([("a[x]", "1"), ("a[]", "2")], "a[]", "is given both as a value and as a list"),
        (
            [("c[first]", "1"), ("c[first][x]", "2")],
            "c[first][x]",
            "is given both as a value and as an object",
        ),
    ],
)
def test_a_key_used_as_value_and_container_is_a_400_naming_it(
    pairs: list[tuple[str, str]], param: str, message: str
) -> None:
    assert _error(pairs) == {
        "message": f"{param}: {message}",
        "status": 400,
        "errors": [{"param": param, "message": message}],
    }


def test_eight_levels_are_accepted_and_nine_are_refused() -> None:
    eight = "a" + "[b]" * 7
    assert decode_bracket_pairs([(eight, "v")]) == {
        "a": {"b": {"b": {"b": {"b": {"b": {"b": {"b": "v"}}}}}}}
    }
    assert _error([("a" + "[b]" * 8, "v")])["errors"] == [
        {"param": "a", "message": "nested deeper than 8 levels"}
    ]


def test_a_thousand_fields_are_accepted_and_more_are_refused() -> None:
    pairs = [(f"f{i}", "x") for i in range(1000)]
    assert len(decode_bracket_pairs(pairs)) == 1000
    assert _error([*pairs, ("one_more", "x")])["errors"] == [
        {"param": "body", "message": "more than 1000 fields in one request"}
    ]


def test_limits_can_be_tightened() -> None:
    assert _error([("a", "1"), ("b", "2"), ("c", "3")], max_fields=2)["errors"] == [
        {"param": "body", "message": "more than 2 fields in one request"}
    ]
    assert _error([("a[b][c]", "1")], max_depth=2)["errors"] == [
        {"param": "a", "message": "nested deeper than 2 levels"}
    ]


def test_fields_are_consumed_lazily_so_a_huge_body_stops_at_the_limit() -> None:
    consumed = 0

    def endless() -> Any:
        nonlocal consumed
        while True:
            consumed += 1
            yield (f"f{consumed}", "x")

    with pytest.raises(V1ValidationError):
        decode_bracket_pairs(endless(), max_fields=10)
    assert consumed == 11


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("1", True),
        (1, True),
        (True, True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
        (0, False),
        (False, False),
    ],
)
def test_form_strings_and_json_values_coerce_to_booleans(value: Any, expected: bool) -> None:
    assert coerce_bool(value, "sourced") is expected


@pytest.mark.parametrize("value", ["maybe", "2", 2, -1, None, 0.5, ["true"], {"v": "1"}])
def test_anything_else_is_a_400_naming_the_parameter(value: Any) -> None:
    with pytest.raises(V1ValidationError) as raised:
        coerce_bool(value, "is_sensitive")
    assert raised.value.body() == {
        "message": "is_sensitive: must be true or false",
        "status": 400,
        "errors": [{"param": "is_sensitive", "message": "must be true or false"}],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("expand[]", "notes")], {"notes"}),
        ([("expand[0]", "notes"), ("expand[1]", "job")], {"notes", "job"}),
        ([("expand", "notes,job")], {"notes", "job"}),
        ([("expand", " notes , ,job ")], {"notes", "job"}),
        ([("expand[]", "notes"), ("expand", "candidate")], {"notes", "candidate"}),
        ([("expanded", "notes"), ("expand[", "job"), ("page", "2")], set()),
        ([], set()),
    ],
)
def test_expand_is_read_in_every_spelling(query: list[tuple[str, str]], expected: set[str]) -> None:
    assert expand_values(query) == frozenset(expected)
