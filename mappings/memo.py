"""A memo for pure functions whose inputs repeat: kept while small, dropped whole past it.

Translation is pure, and the bridge sees the same few inputs over and over (the same
vacancy descriptions on every page view, the same cached v2 bodies). Keeping the
results changes no answer; the bound keeps a stream of distinct inputs from growing it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedMemo(Generic[K, V]):
    """Results by key, while the sizes given for the kept keys add up to ``max_size``
    at most; a result that would pass it drops all that is kept first. A key larger than
    ``max_size`` alone is computed every time. ``make`` raising keeps nothing."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._kept: dict[K, V] = {}
        self._size = 0

    def get(self, key: K, size: int, make: Callable[[], V]) -> V:
        found = self._kept.get(key)
        if found is not None:
            return found
        made = make()
        if size <= self.max_size:
            if self._size + size > self.max_size:
                self._kept.clear()
                self._size = 0
            self._kept[key] = made
            self._size += size
        return made
