"""Configuration: a bad setting is one clear message naming it, at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.cli import main
from proxy.config import load_settings
from proxy.keys import hash_key

DIGEST = hash_key("some-v1-key")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(body)
    return path


def _entry(label: str, source: str, digest: str = DIGEST) -> str:
    return f'[[keys]]\nlabel = "{label}"\nv1_key_sha256 = "{digest}"\n{source}\n'


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_entry("careers", 'v2_key_env = "NOT_SET_ANYWHERE"'), "keys[careers].v2_key_env"),
        (_entry("careers", 'v2_key_file = "/nonexistent/key"'), "keys[careers].v2_key_file"),
        (_entry("careers", 'v2_key_env = "CFG_V2"', digest="abc123"), "keys.0.v1_key_sha256"),
        (
            _entry("careers", 'v2_key_env = "CFG_V2"')
            + _entry("careers", 'v2_key_env = "CFG_V2"', digest=hash_key("other")),
            "duplicate key label(s): careers",
        ),
        (_entry("careers", ""), "give exactly one of v2_key_env or v2_key_file"),
        ('port = "eighty"\n', "port"),
        ("upstream_url = 'ftp://x'\n", "upstream_url"),
        ("this is = not toml [\n", "not valid TOML"),
        ("", "the key map is empty"),
    ],
)
def test_bad_configs_name_the_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    expected: str,
) -> None:
    monkeypatch.setenv("CFG_V2", "v2-secret-value")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    code, output = _check(_write(tmp_path, body), capsys)
    assert code == 2
    assert expected in output
    assert "v2-secret-value" not in output and "Traceback" not in output


def test_unreadable_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = _check(tmp_path / "missing.toml", capsys)
    assert code == 2 and "cannot read it" in output


def test_good_config_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "v2.key"
    key_file.write_text("file-held-v2-key\n")
    body = "port = 9000\n" + _entry("careers", f'v2_key_file = "{key_file}"')
    path = _write(tmp_path, body)
    code, output = _check(path, capsys)
    assert code == 0 and "1 key(s) (careers)" in output
    monkeypatch.setenv("HOMERUN_BRIDGE_PORT", "9100")
    assert load_settings(path).port == 9100
    monkeypatch.delenv("HOMERUN_BRIDGE_PORT")
    assert load_settings(path).port == 9000


def test_hash_key_prints_the_digest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash-key", "some-v1-key"]) == 0
    assert capsys.readouterr().out.strip() == DIGEST


def test_upstream_bounds_from_the_settings_reach_the_upstream_client() -> None:
    from proxy.app import BRIDGE, create_app
    from proxy.config import BridgeSettings
    from proxy.keys import build_key_map

    settings = BridgeSettings(
        key_mode="passthrough", max_upstream_body_bytes=123_456, upstream_pool_wait_seconds=0.25
    )
    upstream = create_app(settings, build_key_map(settings))[BRIDGE].upstream
    assert upstream.max_body_bytes == 123_456
    assert upstream.slots.wait_seconds == 0.25
