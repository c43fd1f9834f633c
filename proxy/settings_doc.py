"""The configuration reference, generated from the settings model (README keeps a copy
that a test compares with this output, so the documentation cannot drift)."""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo

from proxy.config import BridgeSettings, KeyEntry


def _type_name(info: FieldInfo) -> str:
    text = str(info.annotation).replace("typing.", "")
    for noise in ("<class '", "'>", "pathlib.", "datetime."):
        text = text.replace(noise, "")
    if text.startswith("list[proxy.config.KeyEntry]"):
        return "list of key entries"
    # A "|" would split the Markdown cell.
    return text.replace("Literal", "one of ").replace(" | ", " or ")


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    return "" if value is None else f"`{value!r}`".replace("'", '"')


def settings_reference() -> str:
    lines = [
        "| setting | environment variable | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in BridgeSettings.model_fields.items():
        lines.append(
            f"| `{name}` | `HOMERUN_BRIDGE_{name.upper()}` | {_type_name(info)} "
            f"| {_default(info)} | {info.description or ''} |"
        )
    lines += ["", "Each entry of `keys` (`[[keys]]` in TOML; JSON list in the environment):", ""]
    lines += ["| member | type | meaning |", "| --- | --- | --- |"]
    for name, info in KeyEntry.model_fields.items():
        lines.append(f"| `{name}` | {_type_name(info)} | {info.description or ''} |")
    return "\n".join(lines)
