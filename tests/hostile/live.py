"""A sandbox and a bridge in front of it, served from one background thread and loop.

For tests whose client is synchronous (schemathesis) or that need their own runner
settings (slow clients): the pytest event loop stays free, the servers keep answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.app import create_app
from proxy.keys import build_key_map
from sandbox import SANDBOX_STATE
from sandbox import create_app as create_sandbox
from tests.conftest_sandbox import make_sandbox_config
from tests.proxy.conftest import KEYS, bridge_settings


@dataclass
class _Upstream:
    api_url: str


@dataclass
class LiveBridge:
    """Base URLs of the running pair and the seeded ids behind them."""

    base_url: str
    host: str
    port: int
    sandbox_url: str
    application_ids: list[str]
    vacancy_ids: list[str]


@contextlib.contextmanager
def live_bridge(
    runner_options: dict[str, Any] | None = None, **settings: Any
) -> Iterator[LiveBridge]:
    """Start sandbox + bridge on loopback ports in a daemon thread; stop both on exit.

    ``runner_options`` go to the bridge's ``web.AppRunner`` (e.g. ``keepalive_timeout``),
    ``settings`` override ``bridge_settings``.
    """
    saved = {env: os.environ.get(env) for _, env, _ in KEYS.values()}
    os.environ.update({env: v2 for _, env, v2 in KEYS.values()})
    loop = asyncio.new_event_loop()
    sandbox_app = create_sandbox(make_sandbox_config())
    state = sandbox_app[SANDBOX_STATE]
    runners: list[web.AppRunner] = []

    def serve(app: web.Application, **options: Any) -> int:
        runner = web.AppRunner(app, **options)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        runners.append(runner)
        return int(runner.addresses[0][1])

    thread = threading.Thread(target=loop.run_forever, name="hostile-live-bridge", daemon=True)
    try:
        sandbox_port = serve(sandbox_app)
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        config = bridge_settings(_Upstream(f"{sandbox_url}/v2"), **settings)
        port = serve(create_app(config, build_key_map(config)), **(runner_options or {}))
        thread.start()
        yield LiveBridge(
            base_url=f"http://127.0.0.1:{port}",
            host="127.0.0.1",
            port=port,
            sandbox_url=sandbox_url,
            application_ids=sorted(state.applications),
            vacancy_ids=sorted(state.vacancies),
        )
    finally:
        for runner in reversed(runners):
            if thread.is_alive():
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
            else:
                loop.run_until_complete(runner.cleanup())
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        loop.close()
        for env, value in saved.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
