"""Container packaging: the Dockerfile, the Compose example and the example configuration.

No Docker engine is needed: the Dockerfile is linted with hadolint and read instruction
by instruction, docker-compose.yml is read with PyYAML, the example configuration is
checked by the real ``homerun-bridge check-config``, and the image's HEALTHCHECK command
is run against a real bridge process configured the way the image configures it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.packaging_support import (
    DOCKERFILE,
    ROOT,
    Instruction,
    dockerfile_instructions,
    dockerfile_stages,
)

DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE_CONFIG = ROOT / "deploy" / "bridge.example.toml"
EXAMPLE_LABELS = ("careers-site", "hr-sync")
EXAMPLE_V2_KEY_ENV = {
    "CAREERS_SITE_V2_KEY": "example-careers-v2",
    "HR_SYNC_V2_KEY": "example-hr-v2",
}
RUNTIME_IMAGE = "python:3.11-slim"
REDIS_STORE_URL = "redis://redis:6379/0"


# --- reading the Dockerfile ---------------------------------------------------------


def _only(stage: list[Instruction], keyword: str) -> str:
    found = [arguments for kw, arguments in stage if kw == keyword]
    assert len(found) == 1, f"expected one {keyword} in the stage, found {found}"
    return found[0]


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def _healthcheck_command() -> list[str]:
    healthcheck = _only(dockerfile_stages()["final"], "HEALTHCHECK")
    _, _, command = healthcheck.partition("CMD ")
    assert command.startswith("["), "HEALTHCHECK CMD should use the exec (JSON) form"
    return _exec_form(command)


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def _bridge_command() -> list[str]:
    script = Path(sys.executable).with_name("homerun-bridge")
    return [str(script)] if script.exists() else [sys.executable, "-m", "proxy"]


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any HOMERUN_BRIDGE_* setting that would win."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMERUN_BRIDGE_")}
    env.update(extra)
    return env


# --- the Dockerfile ----------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' provides it)")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_runtime_stage_is_slim_python_and_copies_only_the_venv() -> None:
    stages = dockerfile_stages()
    final = stages["final"]
    assert final[0][1].split()[0] == RUNTIME_IMAGE
    assert "builder" in stages and stages["builder"] is not final
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    assert not [arguments for keyword, arguments in final if keyword == "ADD"]


def test_every_base_image_is_pinned_by_tag() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            image = arguments.split()[0]
            assert ":" in image or "@sha256:" in image, image
            assert not image.endswith(":latest"), image


def test_builder_installs_a_wheel_of_the_project_into_opt_venv() -> None:
    builder = dockerfile_stages()["builder"]
    runs = " ".join(arguments for keyword, arguments in builder if keyword == "RUN")
    assert "python -m venv /opt/venv" in runs
    assert re.search(r"pip wheel .*--wheel-dir /wheels \.", runs)
    assert "pip install /wheels/homerun_bridge-*.whl" in runs
    assert re.search(r'"pip==\$\{PIP_VERSION\}"', runs), "pip itself should be pinned"


def test_builder_copies_everything_the_wheel_is_made_of() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {project["project"]["readme"], "pyproject.toml"}
    needed |= set(project["tool"]["setuptools"]["packages"])
    copied: set[str] = set()
    for keyword, arguments in dockerfile_stages()["builder"]:
        if keyword == "COPY":
            sources = arguments.split()[:-1]
            copied |= {source.rstrip("/") for source in sources if not source.startswith("--")}
    assert needed <= copied, f"not copied into the builder: {sorted(needed - copied)}"
    for path in needed:
        assert (ROOT / path).exists(), path


def test_runs_as_a_fixed_non_root_user() -> None:
    user = _only(dockerfile_stages()["final"], "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, f"USER {user}: a fixed numeric uid, not root"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"USER {user}: not the root group"


def test_serves_on_all_interfaces_port_8080_and_stops_on_sigterm() -> None:
    final = dockerfile_stages()["final"]
    env = " ".join(arguments for keyword, arguments in final if keyword == "ENV")
    assert "HOMERUN_BRIDGE_HOST=0.0.0.0" in env
    assert "HOMERUN_BRIDGE_PORT=8080" in env
    assert 'PATH="/opt/venv/bin:${PATH}"' in env
    assert _only(final, "EXPOSE") == "8080"
    assert _only(final, "STOPSIGNAL") == "SIGTERM"
    assert _exec_form(_only(final, "ENTRYPOINT")) == ["homerun-bridge"]
    assert _exec_form(_only(final, "CMD")) == ["serve"]


def test_healthcheck_asks_healthz_with_urllib() -> None:
    command = _healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "urllib" in command[2] and "/healthz" in command[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = _healthcheck_command()
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30
    )


def test_healthcheck_command_passes_on_a_live_bridge_and_fails_once_it_stopped() -> None:
    """The image's HEALTHCHECK, run as written against `serve` configured as in the image
    (port by environment, the example file by HOMERUN_BRIDGE_CONFIG); then SIGTERM."""
    port = str(_free_port())
    env = _clean_env(
        HOMERUN_BRIDGE_CONFIG=str(EXAMPLE_CONFIG),
        HOMERUN_BRIDGE_HOST="127.0.0.1",
        HOMERUN_BRIDGE_PORT=port,
        HOMERUN_BRIDGE_LOG_LEVEL="warning",
        **EXAMPLE_V2_KEY_ENV,
    )
    bridge = subprocess.Popen(
        [*_bridge_command(), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert bridge.poll() is None, f"the bridge exited: {bridge.stderr.read()}"
                assert time.monotonic() < deadline, "the bridge did not start in 15 s"
                time.sleep(0.1)
        healthy = _run_healthcheck(env)
        assert healthy.returncode == 0, healthy.stderr
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=15) == 0
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
        if bridge.stderr is not None:
            bridge.stderr.close()
    stopped = _run_healthcheck(env)
    assert stopped.returncode != 0


# --- .dockerignore -----------------------------------------------------------------


def _dockerignore_regexes() -> list[tuple[bool, re.Pattern[str]]]:
    """The patterns as Docker reads them: anchored at the context root, ``**`` any
    number of directories, ``*`` and ``?`` within one path element, ``!`` re-includes."""
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex + "(?:/.*)?")))
    return rules


def _ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    ignored = False
    for negated, regex in rules:
        if regex.fullmatch(relative):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_the_sources_and_drops_local_state() -> None:
    rules = _dockerignore_regexes()
    for dropped in (".venv/bin/python", ".git/HEAD", "proxy/__pycache__/app.cpython-311.pyc"):
        assert _ignored(dropped, rules), dropped
    for dropped in (".pytest_cache/v", ".hypothesis/x", "deploy/bridge.env", ".env"):
        assert _ignored(dropped, rules), dropped
    copied = [Path("pyproject.toml"), Path("README.md")]
    for package in ("proxy", "mappings", "sandbox"):
        copied += [p.relative_to(ROOT) for p in (ROOT / package).rglob("*") if p.is_file()]
    kept = [p for p in copied if "__pycache__" not in p.parts]
    assert kept and not [p for p in kept if _ignored(p.as_posix(), rules)]


# --- docker-compose.yml ------------------------------------------------------------


def _compose() -> dict[str, object]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _bridge_services() -> dict[str, dict[str, object]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    bridges = {
        name: service
        for name, service in services.items()
        if "homerun-bridge" in str(service.get("image", "")) or "build" in service
    }
    assert bridges, "no homerun-bridge service in docker-compose.yml"
    return bridges


def _environment(service: dict[str, object]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    assert isinstance(environment, dict)
    return {str(k): str(v) for k, v in environment.items()}


def test_compose_bridges_share_the_redis_store_and_wait_for_it() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    replicas = 0
    for name, service in _bridge_services().items():
        assert _environment(service).get("HOMERUN_BRIDGE_STORE_URL") == REDIS_STORE_URL, name
        depends_on = service.get("depends_on") or {}
        assert "redis" in depends_on or "healthcheck" in service, name
        if isinstance(depends_on, dict):
            assert depends_on["redis"]["condition"] == "service_healthy", name
        replicas += int(service.get("deploy", {}).get("replicas", 1))
    assert replicas >= 2, "the example should show two bridge replicas sharing Redis"
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert "healthcheck" in redis


def test_compose_mounts_the_example_config_and_keeps_keys_out_of_the_file() -> None:
    for name, service in _bridge_services().items():
        target = _environment(service)["HOMERUN_BRIDGE_CONFIG"]
        mounts = {
            volume["target"]: volume
            for volume in service["volumes"]
            if isinstance(volume, dict) and volume.get("type") == "bind"
        }
        assert target in mounts, f"{name}: {target} is not mounted"
        assert mounts[target]["read_only"] is True
        source = (COMPOSE.parent / mounts[target]["source"]).resolve()
        assert source == EXAMPLE_CONFIG
        assert service.get("env_file") or service.get("secrets"), f"{name}: where are the keys?"
        assert not any("V2_KEY" in key for key in _environment(service)), name
        grace = str(service.get("stop_grace_period", "10s"))
        assert grace.endswith("s") and int(grace[:-1]) > 10, "longer than the 10 s drain"


def test_compose_legacy_app_reaches_the_bridge_by_service_name() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    legacy = services["legacy-app"]
    bridge_name = next(iter(_bridge_services()))
    assert any(
        value.startswith(f"http://{bridge_name}:8080") for value in _environment(legacy).values()
    )
    assert bridge_name in legacy["depends_on"]


# --- deploy/bridge.example.toml ----------------------------------------------------


def test_example_config_passes_check_config() -> None:
    result = subprocess.run(
        [*_bridge_command(), "check-config", "--config", str(EXAMPLE_CONFIG)],
        env=_clean_env(**EXAMPLE_V2_KEY_ENV),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration OK" in result.stdout
    for label in EXAMPLE_LABELS:
        assert label in result.stdout


def test_example_config_names_a_missing_v2_key() -> None:
    result = subprocess.run(
        [*_bridge_command(), "check-config", "--config", str(EXAMPLE_CONFIG)],
        env=_clean_env(CAREERS_SITE_V2_KEY="example-careers-v2"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "HR_SYNC_V2_KEY" in result.stderr


def test_example_config_digests_are_the_documented_placeholders() -> None:
    from proxy.keys import hash_key

    config = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    digests = {entry["label"]: entry["v1_key_sha256"] for entry in config["keys"]}
    assert digests == {
        "careers-site": hash_key("example-careers-key"),
        "hr-sync": hash_key("example-hr-sync-key"),
    }
