"""``workers = N``: N bridge processes on one port (SO_REUSEPORT) under one supervisor,
sharing the Redis store: connections reach every worker, SIGHUP and SIGTERM reach every
worker, a killed worker is replaced, the v2 budget is shared, and the memory store (or a
kernel without SO_REUSEPORT) is refused at start-up with a clear message and exit code 2.

Real processes against the sandbox and the real Redis (``tests.redis_support``). Which
worker answered a connection: ``/healthz``'s ``X-Bridge-Worker`` header (``index/pid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from proxy.cli import main
from proxy.config import load_settings
from proxy.keys import hash_key
from proxy.ratelimit import key_id
from proxy.workers import WorkerSlot
from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.proxy.processes import (
    AUTH,
    BridgeProcess,
    free_port,
    spawn_bridge,
    wait_until_answering,
)
from tests.redis_support import REDIS_URL

GRACE = 2.0
# Process start-up and exit on a loaded two-core machine, on top of the grace + 1 s promised.
SLACK = 4.0
# Fresh connections tried before concluding a worker never gets one (the kernel spreads them
# by a hash of the address pair: each lands on either worker with even odds).
CONNECTIONS = 200


def _settings(redis_prefix: str, **overrides: Any) -> dict[str, Any]:
    return {
        "workers": 2,
        "store_url": REDIS_URL,
        "store_prefix": redis_prefix,
        "log_level": "info",
        "log_format": "json",
        "rate_limit_per_minute": 0,
        "shutdown_grace_seconds": GRACE,
        **overrides,
    }


@contextlib.asynccontextmanager
async def _workers(
    upstream_url: str, tmp_path: Path, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BridgeProcess]:
    """Two workers under their supervisor (``bridge.pid``), both listening."""
    async with spawn_bridge(
        upstream_url, output_dir=tmp_path, **_settings(redis_prefix, **overrides)
    ) as bridge:
        await _until(lambda: bool(bridge.events("workers.ready")), "both workers listen", bridge)
        yield bridge


async def _until(condition: Callable[[], bool], what: str, bridge: BridgeProcess) -> None:
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}\n{bridge.all_output()[-3000:]}")


def _worker_pids(bridge: BridgeProcess) -> dict[int, int]:
    """Worker index -> the pid of its latest process, from the supervisor's log."""
    return {event["worker"]: event["worker_pid"] for event in bridge.events("worker.started")}


async def _per_worker(
    base: str, probe: Callable[[aiohttp.ClientSession], Any] | None = None
) -> dict[str, list[Any]]:
    """Fresh connections until every worker answered one: ``X-Bridge-Worker`` -> what
    ``probe`` got on the same connection, right after that worker's ``/healthz``."""
    seen: dict[str, list[Any]] = {}
    for _ in range(CONNECTIONS):
        # One connection per session: /healthz and the probe reach the same worker.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            async with http.get(base + "/healthz") as response:
                worker = response.headers["X-Bridge-Worker"]
            seen.setdefault(worker, []).append(await probe(http) if probe else None)
        if len(seen) == 2:
            break
    return seen


def _pid_of(label: str) -> int:
    return int(label.split("/")[1])


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by whoever adopted it, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_two_workers_answer_on_one_port_and_share_the_store(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    async with _workers(sandbox_server.api_url, tmp_path, redis_prefix) as bridge:

        async def jobs(http: aiohttp.ClientSession) -> int:
            async with http.get(bridge.base + "/v1/jobs", headers=AUTH) as response:
                return response.status

        seen = await _per_worker(bridge.base, jobs)
        pids = _worker_pids(bridge)
        assert {_pid_of(label) for label in seen} == set(pids.values()), seen
        assert sorted(seen) == [f"{index}/{pid}" for index, pid in sorted(pids.items())]
        assert bridge.pid not in pids.values(), "the supervisor serves nothing itself"
        assert all(status == 200 for statuses in seen.values() for status in statuses), seen
        # Every log line of a worker names it; the jobs were listed by both.
        served = {r["pid"] for r in bridge.events("request") if r.get("route") == "/v1/jobs"}
        assert served == set(pids.values())


async def test_sigterm_drains_every_worker_then_the_supervisor_exits(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    async with _workers(sandbox_server.api_url, tmp_path, redis_prefix) as bridge:
        pids = set(_worker_pids(bridge).values())
        async with aiohttp.ClientSession(headers=AUTH) as http:
            fault = {"path": "^/v2/vacancies", "action": "latency", "latency_ms": 1000}
            async with http.post(sandbox_server.url("/_sandbox/faults"), json=fault) as answer:
                assert answer.status == 201

            async def slow() -> int:
                connector = aiohttp.TCPConnector(force_close=True)
                async with aiohttp.ClientSession(headers=AUTH, connector=connector) as own:
                    async with own.get(bridge.base + "/v1/jobs") as response:
                        return response.status

            in_flight = [asyncio.create_task(slow()) for _ in range(6)]
            await asyncio.sleep(0.5)
            started = time.monotonic()
            bridge.process.send_signal(signal.SIGTERM)
            statuses = await asyncio.gather(*in_flight)
            code = await asyncio.wait_for(bridge.process.wait(), GRACE + 1 + SLACK)
            elapsed = time.monotonic() - started
        assert statuses == [200] * 6, "a request in flight was cut off"
        assert code == 0, bridge.all_output()[-3000:]
        assert elapsed < GRACE + 1 + SLACK
        # Both workers heard it and drained; none outlives the supervisor.
        assert {event["pid"] for event in bridge.events("shutdown.done")} == pids
        assert not [pid for pid in pids if _alive(pid)]


def _config_text(upstream_url: str, port: int, redis_prefix: str, v1_key: str) -> str:
    """A configuration file for a bridge on ``port``, mapping only ``v1_key``."""
    return (
        f'upstream_url = "{upstream_url}"\nport = {port}\n'
        f'store_url = "{REDIS_URL}"\nstore_prefix = "{redis_prefix}"\n'
        'log_level = "info"\nlog_format = "json"\nrate_limit_per_minute = 0\n'
        f'[[keys]]\nlabel = "{v1_key}"\nv1_key_sha256 = "{hash_key(v1_key)}"\n'
        'v2_key_env = "WORKERS_TEST_V2"\n'
    )


@contextlib.asynccontextmanager
async def _serve_file(tmp_path: Path, port: int, *options: str) -> AsyncIterator[BridgeProcess]:
    """``serve --config bridge.toml *options`` run from ``tmp_path`` (a relative path, as
    an operator types it), its output in files there; stopped at the end if still up."""
    log_path, stderr_path = tmp_path / "bridge.log", tmp_path / "bridge.err"
    with log_path.open("wb") as out, stderr_path.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "proxy", "serve", "--config", "bridge.toml", *options),
            cwd=tmp_path,
            env={**os.environ, "WORKERS_TEST_V2": "demo-v2-key"},
            stdout=out,
            stderr=err,
        )
    try:
        yield BridgeProcess(f"http://127.0.0.1:{port}", process, port, log_path, stderr_path)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), GRACE + 1 + SLACK)


async def test_sighup_reloads_the_key_map_of_every_worker(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    """The key map lives in a file and the worker count comes from ``--workers`` (the CLI
    flag over the setting): each worker reads the same file, again on SIGHUP."""
    port, config = free_port(), tmp_path / "bridge.toml"
    config.write_text(_config_text(sandbox_server.api_url, port, redis_prefix, "key-a"))
    async with _serve_file(tmp_path, port, "--workers", "2") as bridge:
        await wait_until_answering(bridge.base + "/healthz", bridge.process, "bridge")
        await _until(lambda: bool(bridge.events("workers.ready")), "both workers listen", bridge)

        def status_with(key: str) -> Callable[[aiohttp.ClientSession], Any]:
            async def probe(http: aiohttp.ClientSession) -> int:
                auth = aiohttp.BasicAuth(key, "")
                async with http.get(bridge.base + "/v1/jobs", auth=auth) as response:
                    return response.status

            return probe

        before = await _per_worker(bridge.base, status_with("key-b"))
        assert len(before) == 2 and all(set(s) == {401} for s in before.values()), before
        config.write_text(_config_text(sandbox_server.api_url, port, redis_prefix, "key-b"))
        bridge.process.send_signal(signal.SIGHUP)
        await _until(lambda: len(bridge.events("config.reloaded")) == 2, "both reload", bridge)
        after = await _per_worker(bridge.base, status_with("key-b"))
        assert after.keys() == before.keys(), "SIGHUP restarted nothing"
        assert all(set(s) == {200} for s in after.values()), after
        old_key = await _per_worker(bridge.base, status_with("key-a"))
        assert all(set(s) == {401} for s in old_key.values()), old_key
        reloaded = bridge.events("config.reloaded")
        assert {r["pid"] for r in reloaded} == {_pid_of(label) for label in after}
        assert all(r["key_labels"] == ["key-b"] for r in reloaded)


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_port_taken_is_a_clear_start_up_error(
    tmp_path: Path, redis_prefix: str, workers: str
) -> None:
    """Exit code 2 and the reason; with workers, the supervisor gives up at once (a worker
    that never listened is not restarted) and stops the other."""
    with socket.socket() as taken:  # without SO_REUSEPORT: nobody may share the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = _config_text("http://127.0.0.1:9/v2", port, redis_prefix, "key-a")
        (tmp_path / "bridge.toml").write_text(config)
        async with _serve_file(tmp_path, port, "--workers", workers) as bridge:
            code = await asyncio.wait_for(bridge.process.wait(), 60)
    output = bridge.all_output()
    assert code == 2, output[-3000:]
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in output
    if workers == "2":
        assert bridge.events("worker.failed_to_start"), output[-3000:]
        assert not bridge.events("worker.died"), "a start-up failure was retried"


async def test_a_killed_worker_is_restarted_later_each_time(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    async with _workers(sandbox_server.api_url, tmp_path, redis_prefix) as bridge:
        first = _worker_pids(bridge)
        os.kill(first[1], signal.SIGKILL)
        await _until(lambda: _worker_pids(bridge)[1] != first[1], "worker 1 restarted", bridge)
        await _until(
            lambda: len(bridge.events("worker.listening")) == 3, "worker 1 listens", bridge
        )
        now = _worker_pids(bridge)
        assert now[2] == first[2], "the other worker was left alone"
        seen = await _per_worker(bridge.base)
        assert sorted(seen) == [f"1/{now[1]}", f"2/{now[2]}"]
        (died,) = bridge.events("worker.died")
        assert died["worker"] == 1 and died["exit_code"] == -signal.SIGKILL
        assert died["restart_in_seconds"] > 0
        # Dying again soon after: the next restart waits longer.
        os.kill(now[1], signal.SIGKILL)
        await _until(lambda: len(bridge.events("worker.died")) == 2, "it died again", bridge)
        again = bridge.events("worker.died")[1]
        assert again["restart_in_seconds"] == 2 * died["restart_in_seconds"]
        await _until(lambda: _worker_pids(bridge)[1] != now[1], "restarted again", bridge)
        assert bridge.process.returncode is None


async def _rest_the_schedule(redis_prefix: str, v2_key: str) -> None:
    """The v2 key's shared schedule as after a quiet hour: its whole burst available (a
    schedule the store lacks counts as just spent, so a fresh prefix would pace at once)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.set(f"{redis_prefix}gcra:{key_id(v2_key)}", 0)
    finally:
        await client.aclose()


async def test_no_worker_outlives_a_killed_supervisor(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    """SIGKILL leaves the supervisor no chance to forward anything: the kernel tells each
    worker (PR_SET_PDEATHSIG), which then drains and exits like on a SIGTERM."""
    async with _workers(sandbox_server.api_url, tmp_path, redis_prefix) as bridge:
        pids = set(_worker_pids(bridge).values())
        bridge.process.kill()
        await bridge.process.wait()
        await _until(lambda: not any(_alive(pid) for pid in pids), "the workers exit", bridge)
    assert {event["pid"] for event in bridge.events("shutdown.done")} == pids


async def test_two_workers_spend_one_shared_budget(
    start_sandbox: StartSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    """The sandbox refuses a 21st call in a minute; a rested schedule lets the bridge send
    20 back to back. Workers pacing on their own would send 20 each; sharing the schedule
    in Redis, the calls past 20 get the bridge's own v1 429 and v2 refuses nothing."""
    budget = 20
    sandbox = await start_sandbox(rate_limit_per_minute=budget)
    settings = {"rate_limit_per_minute": budget, "rate_limit_burst": budget}
    settings |= {"rate_limit_deadline_seconds": 2, "cache_ttl_seconds": 0}
    async with _workers(sandbox.api_url, tmp_path, redis_prefix, **settings) as bridge:
        await _rest_the_schedule(redis_prefix, "demo-v2-key")

        async def read(application_id: str) -> int:
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(headers=AUTH, connector=connector) as http:
                async with http.get(f"{bridge.base}/v1/applications/{application_id}") as r:
                    return r.status

        # Distinct reads: each needs its own v2 call (equal ones in flight would share one).
        ids = sorted(sandbox.state.applications)[: 3 * budget]
        statuses = await asyncio.gather(*(read(application_id) for application_id in ids))
        served = {
            r["pid"] for r in bridge.events("request") if r["route"].startswith("/v1/applications")
        }
    v2_calls = sandbox.state.stats.requests["demo-v2-key"]
    summary = f"{sorted(statuses)}; v2 calls {v2_calls}"
    assert sandbox.state.stats.rate_limited.get("demo-v2-key", 0) == 0, summary
    assert set(statuses) == {200, 429}, summary
    assert budget // 2 <= statuses.count(200) <= budget, summary
    assert served == set(_worker_pids(bridge).values()), "one worker took all the traffic"
    # Whichever worker a call reached, it took a slot of the one schedule: at most the
    # budget went upstream (pacing per worker would have sent up to twice that).
    assert v2_calls <= budget, summary


@pytest.fixture
def bridge_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A loadable configuration in the environment, memory store: only workers matter."""
    for name in list(os.environ):
        if name.startswith("HOMERUN_BRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOMERUN_BRIDGE_UPSTREAM_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("HOMERUN_BRIDGE_KEY_MODE", "passthrough")
    return monkeypatch


MEMORY_REFUSED = "workers = 2 needs the Redis store"


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["serve", "--workers", "2"], {}),
        (["check-config", "--workers", "2"], {}),
        (["check-config"], {"HOMERUN_BRIDGE_WORKERS": "2"}),
    ],
    ids=["serve flag", "check-config flag", "setting"],
)
def test_workers_with_the_memory_store_are_refused(
    bridge_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        bridge_env.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert MEMORY_REFUSED in err and "store_url" in err, err


async def test_serve_refuses_workers_with_the_memory_store_before_binding(
    tmp_path: Path,
) -> None:
    """The real command: exit code 2 and the reason on stderr, nothing started."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOMERUN_BRIDGE_")},
        "HOMERUN_BRIDGE_UPSTREAM_URL": "http://127.0.0.1:9/v2",
        "HOMERUN_BRIDGE_KEY_MODE": "passthrough",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "proxy", "serve", "--workers", "2"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert MEMORY_REFUSED in err.decode() and not out, err


def test_check_config_names_the_workers_with_redis(
    bridge_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge_env.setenv("HOMERUN_BRIDGE_STORE_URL", REDIS_URL)
    assert main(["check-config", "--workers", "3"]) == 0
    assert "3 workers" in capsys.readouterr().out
    assert main(["check-config"]) == 0
    assert "workers" not in capsys.readouterr().out, "one process: nothing to say"


def test_workers_are_refused_without_so_reuseport(
    bridge_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge_env.setenv("HOMERUN_BRIDGE_STORE_URL", REDIS_URL)
    bridge_env.setattr(sys, "platform", "darwin")
    assert main(["check-config", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "SO_REUSEPORT" in err and "workers = 1" in err, err


def test_each_worker_paces_at_its_part_of_the_outage_share(
    bridge_env: pytest.MonkeyPatch,
) -> None:
    """While Redis is away each worker paces alone: two workers at the bridge's whole
    share would spend twice what the operator gave this replica."""
    bridge_env.setenv("HOMERUN_BRIDGE_STORE_URL", REDIS_URL)
    settings = load_settings(overrides={"workers": 2, "store_outage_share": 0.5})
    own = WorkerSlot(index=1, count=2, supervisor_pid=os.getpid(), ready_fd=-1).own_settings(
        settings
    )
    assert own.store_outage_share == 0.25
    assert (own.workers, own.store_url, own.port) == (2, REDIS_URL, settings.port)
