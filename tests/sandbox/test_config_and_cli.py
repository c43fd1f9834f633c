"""SandboxConfig validation, the CLI options and `python -m sandbox` as a real process."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from sandbox import ALL_SCOPES, DEMO_KEYS, KeySpec, SandboxConfig
from sandbox.cli import add_arguments, config_from_args

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_demo_keys() -> None:
    assert DEMO_KEYS["demo-v2-key"].scopes == ALL_SCOPES and len(ALL_SCOPES) == 6
    assert DEMO_KEYS["demo-readonly-v2-key"].scopes == {
        "vacancies:read", "job-applications:read", "job-application-notes:read",
    }  # fmt: skip
    assert DEMO_KEYS["demo-noplan-v2-key"].has_api_plan is False
    assert "job-application-notes:read" not in DEMO_KEYS["demo-nonotes-v2-key"].scopes


@pytest.mark.parametrize(
    "settings",
    [
        {"rate_limit_per_minute": 0},
        {"file_url_ttl_seconds": 0},
        {"public_base_url": "api.example.com"},
        {"keys": {}},
        {"seed": "one"},
    ],
)
def test_bad_settings_fail_at_construction(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(**settings)  # type: ignore[arg-type]


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        KeySpec(frozenset({"vacancies:write"}))


def test_public_base_url_is_normalised() -> None:
    assert (
        SandboxConfig(public_base_url="http://api.test:8081/").public_base_url
        == "http://api.test:8081"
    )


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_options_map_onto_the_config() -> None:
    config = config_from_args(
        parse("--port", "9000", "--seed", "5", "--rate-limit", "off", "--faults")
    )
    assert (config.seed, config.rate_limit_per_minute, config.faults_enabled) == (5, None, True)
    assert config_from_args(parse()).rate_limit_per_minute == 60
    assert config_from_args(parse("--rate-limit", "120")).rate_limit_per_minute == 120
    with pytest.raises(SystemExit):
        parse("--rate-limit", "lots")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_python_dash_m_sandbox_serves_the_api() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "2",
            "--rate-limit",
            "off",
            "--faults",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v2/ping", headers={"Authorization": "Bearer demo-v2-key"}
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert orjson.loads(response.read()) == {"pong": True}
                    assert "X-RateLimit-Limit" not in response.headers
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "sandbox did not start within 10 s"
                time.sleep(0.05)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_sandbox/faults", timeout=2
        ) as response:
            assert orjson.loads(response.read()) == {"faults": []}
    finally:
        process.terminate()
        process.wait(timeout=10)
