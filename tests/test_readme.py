"""The README's configuration reference is the one the settings model generates."""

from __future__ import annotations

from pathlib import Path

from proxy.settings_doc import settings_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- config-reference:start -->\n") + len(
        "<!-- config-reference:start -->\n"
    )
    end = text.index("\n<!-- config-reference:end -->")
    assert text[start:end] == settings_reference(), (
        "README is stale: paste the output of `homerun-bridge config-reference`"
    )
