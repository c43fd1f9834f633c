"""The browser settings: origins validated at load with a message naming the setting,
normalized to the form browsers send, from TOML and from the environment; check-config
says what browsers get."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("configured", "loaded"),
    [
        ([], []),
        (["*"], ["*"]),
        (["https://careers.example.com"], ["https://careers.example.com"]),
        # As an address bar shows it: a trailing slash, capitals, the default port.
        (["HTTPS://Careers.Example.com:443/"], ["https://careers.example.com"]),
        (
            ["http://127.0.0.1:80", "http://localhost:8080"],
            ["http://127.0.0.1", "http://localhost:8080"],
        ),
        (["http://[::1]:3000"], ["http://[::1]:3000"]),
        (["https://a.example", "https://a.example/"], ["https://a.example"]),
    ],
)
def test_origins_load_in_the_form_browsers_send(configured: list[str], loaded: list[str]) -> None:
    settings = load_settings(overrides={"cors_allowed_origins": configured})
    assert settings.cors_allowed_origins == loaded


@pytest.mark.parametrize(
    ("configured", "says"),
    [
        (["https://careers.example.com/jobs"], "no path"),
        (["careers.example.com"], "scheme://host[:port]"),
        (["ftp://files.example.com"], "http or https"),
        (["https://a.example:0"], "is not an origin"),
        (["https://a.example:70000"], "is not an origin"),
        (["https://a.example?x=1"], "is not an origin"),
        (["null"], "is not an origin"),
        (["*", "https://a.example"], "list it alone"),
        ([""], "is not an origin"),
    ],
)
def test_a_bad_origin_is_a_clear_config_error(configured: list[str], says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(overrides={"cors_allowed_origins": configured})
    assert str(raised.value).startswith("cors_allowed_origins: ")
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("text", "loaded"),
    [
        ("https://a.example,http://127.0.0.1:5000", ["https://a.example", "http://127.0.0.1:5000"]),
        (" https://a.example , ", ["https://a.example"]),
        ('["https://a.example", "*"]', None),
        ('["https://a.example"]', ["https://a.example"]),
        ("*", ["*"]),
        ("", []),
    ],
)
def test_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, loaded: list[str] | None
) -> None:
    monkeypatch.setenv("HOMERUN_BRIDGE_CORS_ALLOWED_ORIGINS", text)
    if loaded is None:
        with pytest.raises(ConfigError, match="list it alone"):
            load_settings()
    else:
        assert load_settings().cors_allowed_origins == loaded


def test_broken_json_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOMERUN_BRIDGE_CORS_ALLOWED_ORIGINS", '["https://a.example"')
    with pytest.raises(ConfigError, match=r"cors_allowed_origins: .*not a JSON list"):
        load_settings()


def test_gzip_min_bytes_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().gzip_min_bytes == 1024
    monkeypatch.setenv("HOMERUN_BRIDGE_GZIP_MIN_BYTES", "-1")
    with pytest.raises(ConfigError, match="gzip_min_bytes"):
        load_settings()


@pytest.mark.parametrize("level", ["0", "10", "fast"])
def test_gzip_level_is_checked(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    assert load_settings().gzip_level == 1
    monkeypatch.setenv("HOMERUN_BRIDGE_GZIP_LEVEL", level)
    with pytest.raises(ConfigError, match="gzip_level"):
        load_settings()


def _check_config(tmp_path: Path, toml: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "bridge.toml"
    config.write_text('key_mode = "passthrough"\n' + toml, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "proxy", "check-config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_shows_what_browsers_get(tmp_path: Path) -> None:
    result = _check_config(
        tmp_path,
        'cors_allowed_origins = ["https://careers.example.com/", "http://localhost:3000"]\n'
        "gzip_min_bytes = 2048\n",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "browsers: CORS for https://careers.example.com, http://localhost:3000; "
        "gzip (level 1) for answers of 2048 bytes or more"
    ) in result.stdout
    result = _check_config(tmp_path, "gzip_min_bytes = 0\n")
    assert "browsers: CORS off; gzip off" in result.stdout


def test_check_config_refuses_a_bad_origin(tmp_path: Path) -> None:
    result = _check_config(tmp_path, 'cors_allowed_origins = ["https://a.example/widget"]\n')
    assert result.returncode == 2
    assert "configuration error: cors_allowed_origins: " in result.stderr
    assert "'https://a.example/widget' is not an origin" in result.stderr
