"""A SIGHUP that reaches the supervisor while its workers are still starting (before a
worker's event loop took the signal over) reloads nothing yet and kills nothing: a worker
spawned with SIGHUP's default action died of it, never having listened, and the
supervisor took that for a start-up failure and stopped the whole bridge."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.conftest_sandbox import RunningSandbox
from tests.proxy.processes import spawn_bridge
from tests.proxy.test_workers import _settings, _until


async def test_a_sighup_during_start_up_kills_no_worker(
    sandbox_server: RunningSandbox, tmp_path: Path, redis_prefix: str
) -> None:
    async with spawn_bridge(
        sandbox_server.api_url, output_dir=tmp_path, **_settings(redis_prefix)
    ) as bridge:
        for _ in range(3000):  # the supervisor started both workers (polled, within 30 s)
            if len(bridge.events("worker.started")) == 2:
                break
            await asyncio.sleep(0.01)
        bridge.process.send_signal(signal.SIGHUP)
        await _until(lambda: bool(bridge.events("workers.ready")), "both workers listen", bridge)
        assert not bridge.events("worker.died"), bridge.all_output()[-3000:]
        assert not bridge.events("worker.failed_to_start"), bridge.all_output()[-3000:]
        assert bridge.process.returncode is None
