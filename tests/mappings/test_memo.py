"""SizedMemo: results kept while small, dropped whole past the bound."""

from __future__ import annotations

import pytest

from mappings.memo import SizedMemo


def test_results_are_kept_then_dropped_whole_past_the_bound() -> None:
    made: list[str] = []
    memo = SizedMemo[str, str](max_size=10)

    def get(key: str) -> str:
        def make() -> str:
            made.append(key)
            return key.upper()

        return memo.get(key, len(key), make)

    assert [get("abcd"), get("abcd"), get("efgh")] == ["ABCD", "ABCD", "EFGH"]
    assert made == ["abcd", "efgh"]  # 8 of 10 kept: the second "abcd" was a hit
    assert get("ijk") == "IJK"  # 8 + 3 > 10: all dropped, then "ijk" kept
    assert get("abcd") == "ABCD"
    assert made == ["abcd", "efgh", "ijk", "abcd"]
    assert get("ijk") == "IJK"
    assert made[-1] == "abcd"  # "ijk" survived: 3 + 4 <= 10


def test_a_key_over_the_bound_alone_is_made_every_time_and_a_failure_keeps_nothing() -> None:
    memo = SizedMemo[str, int](max_size=3)
    calls = 0

    def make() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert [memo.get("long", 4, make), memo.get("long", 4, make)] == [1, 2]

    def broken() -> int:
        raise ValueError("not v2")

    for _ in range(2):
        with pytest.raises(ValueError):
            memo.get("bad", 1, broken)
    assert memo.get("bad", 1, make) == 3
