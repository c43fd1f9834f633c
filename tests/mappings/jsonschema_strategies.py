"""Hypothesis strategies for v2 answers, drawn from the spec's own JSON schemas.

``answers("VacancyList")`` draws answers that the revised spec allows ("What an answer
guarantees": only ``data`` and the ids required, any other member absent or null, nested
ones too), sizes bounded so a property test stays fast.

hypothesis-jsonschema 0.23.1 draws objects with ``many.more()``, which Hypothesis 6.170
replaced by ``with many(...) as elements: for _ in elements``; ``_LegacyMany`` gives the
old interface on top of the new one, so the library works unchanged.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Final

import hypothesis.internal.conjecture.utils as conjecture_utils
import hypothesis_jsonschema._from_schema as jsonschema_drawing
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.spec_validation import inline_schema

# Members every answer keeps: the guarantee of the revised spec.
GUARANTEED: Final = frozenset({"data", "id"})
MAX_ITEMS: Final = 2
MAX_TEXT: Final = 12


class _LegacyMany:
    """``many(...).more()`` / ``.reject()`` over Hypothesis's context-manager ``many``."""

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._many.__enter__()
        self._elements: Iterator[None] = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


if not hasattr(conjecture_utils.many, "more"):
    jsonschema_drawing.cu = types.SimpleNamespace(  # type: ignore[attr-defined,assignment]
        **{**vars(conjecture_utils), "many": _LegacyMany}
    )


def _null_items(schema: dict[str, Any]) -> dict[str, Any]:
    """A nested list (notes, files, stages…) may hold nulls too; ``data`` lists may not."""
    if "items" not in schema:
        return schema
    return {**schema, "items": {"anyOf": [schema["items"], {"type": "null"}]}}


def guaranteed_only(schema: Any, *, dense: int = 0) -> Any:
    """The schema as the guarantee reads it: members other than ``data``/``id`` optional and
    nullable, nested ones and the items of nested lists too; sizes bounded so generation
    stays fast."""
    if isinstance(schema, list):
        return [guaranteed_only(item, dense=dense) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # dense: the objects of the first ``dense`` levels keep every member (a value or null);
    # deeper ones, and all of them otherwise, require only data and ids.
    inner = dense - 1 if "properties" in schema else dense
    widened = {
        key: guaranteed_only(value, dense=max(inner, 0))
        for key, value in schema.items()
        if key not in ("description", "examples", "example")
    }
    if "properties" in widened:
        required = widened["properties"] if dense > 0 else widened.get("required", [])
        widened["required"] = [r for r in required if dense > 0 or r in GUARANTEED]
        widened["properties"] = {
            name: sub if name in GUARANTEED else {"anyOf": [_null_items(sub), {"type": "null"}]}
            for name, sub in widened["properties"].items()
        }
        if widened.get("additionalProperties") is not True:
            widened["additionalProperties"] = False  # unknown members: tested elsewhere
    kinds = widened.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "array" in kinds:
        widened.setdefault("maxItems", MAX_ITEMS)
    if "string" in kinds and "format" not in widened and "enum" not in widened:
        widened.setdefault("maxLength", MAX_TEXT)
    if "object" in kinds and widened.get("additionalProperties") is True:
        widened.setdefault("maxProperties", MAX_ITEMS)
    return widened


def answers(component: str, *, widened: bool = True) -> st.SearchStrategy[Any]:
    """Answers of the spec's ``components/schemas/<component>``: as the guarantee reads it,
    or (``widened=False``) as the published schema alone says."""
    schema = inline_schema(f"/components/schemas/{component}")
    if not widened:
        return from_schema(schema)
    # Left to itself the generator leaves most optional members out; the dense half
    # keeps every member (a value or null), so full and null-riddled answers come up too.
    return st.one_of(
        from_schema(guaranteed_only(schema)), from_schema(guaranteed_only(schema, dense=2))
    )
