"""``homerun-bridge``: serve the bridge, run the demo or the sandbox, manage keys.

homerun-bridge serve [--config FILE] [--workers N]
                                              the bridge, configured by file/env
homerun-bridge demo [--port 8080] [--sandbox-port 8081]
                                              the bridge in front of an embedded sandbox
homerun-bridge sandbox --port 8081 [...]      the API v2 simulator alone
homerun-bridge hash-key [KEY]                 the digest of a v1 key, for the key map
homerun-bridge check-config [--config FILE]   validate a configuration, then exit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web

from proxy.app import create_app, reload_key_map
from proxy.config import BridgeSettings, ConfigError, KeyEntry, load_settings
from proxy.keys import KeyMap, build_key_map, hash_key
from proxy.lifecycle import (
    RUNNER_CLOSE_SECONDS,
    AcceptErrorHandler,
    CappedSite,
    InFlightRequests,
    connection_cap,
    raise_open_file_limit,
    shut_down,
)
from proxy.logs import configure_logging
from proxy.state import BRIDGE
from proxy.tracing import configure_tracing
from proxy.workers import WorkerSlot, require_reuse_port, supervise

DEMO_KEYS = (
    ("demo-v1", "demo-v1-key", "HOMERUN_BRIDGE_DEMO_V2_KEY", "demo-v2-key"),
    (
        "demo-v1-readonly",
        "demo-v1-readonly",
        "HOMERUN_BRIDGE_DEMO_READONLY_V2_KEY",
        "demo-readonly-v2-key",
    ),
)
SHUTDOWN_GRACE_SECONDS = BridgeSettings.model_fields["shutdown_grace_seconds"].default
IDLE_TIMEOUT_SECONDS = BridgeSettings.model_fields["idle_timeout_seconds"].default


def _load(config: Path | None, **overrides: object) -> tuple[BridgeSettings, KeyMap]:
    settings = load_settings(config, {k: v for k, v in overrides.items() if v is not None})
    return settings, build_key_map(settings)


async def _listen(runner: web.AppRunner, site: web.TCPSite, host: str, port: int) -> None:
    """Start listening; a port taken or an address not ours is a clear start-up error,
    after the runner closed what its start-up opened (the upstream pool, the store)."""
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # asyncio's message repeats the address; the errno's own words say it best.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from exc


async def _serve_until_stopped(
    *apps: tuple[web.Application, str, int],
    on_hangup: Callable[[], object] | None = None,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    worker: WorkerSlot | None = None,
) -> None:
    """Run apps until SIGINT/SIGTERM, then shut the bridges down within their
    ``shutdown_grace_seconds`` plus one second (``proxy.lifecycle``), then the rest (the
    demo's sandbox). SIGHUP calls ``on_hangup``. As one of several ``worker`` processes
    (``proxy.workers``), the bridge's socket shares its port (``SO_REUSEPORT``) and the
    supervisor hears when it listens.

    A bridge's handlers are cancelled when their client disconnects
    (``handler_cancellation``: the upstream client shields writes), and its listener
    admits ``max_client_connections`` at a time (lowered to fit the open-file limit,
    which is first raised towards the hard limit). ``idle_timeout`` closes a connection
    that sits idle between requests, or that has not finished sending its request
    headers (a slow-loris) that long after it opened; aiohttp's own default is an hour.
    A request being handled is never cut short by it.
    """
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorHandler())
    open_files = raise_open_file_limit()
    bridges: list[web.AppRunner] = []
    others: list[web.AppRunner] = []
    grace = SHUTDOWN_GRACE_SECONDS
    for app, host, port in apps:
        is_bridge = InFlightRequests.of(app) is not None
        runner = web.AppRunner(
            app,
            # The drain happens before cleanup (proxy.lifecycle.shut_down); what is left then
            # closes fast. The sandbox keeps aiohttp's default: its handlers run to the end.
            shutdown_timeout=RUNNER_CLOSE_SECONDS,
            keepalive_timeout=idle_timeout,
            access_log=None,
            handler_cancellation=is_bridge,
        )
        await runner.setup()
        if is_bridge:
            bridge = app[BRIDGE]
            settings = bridge.settings
            grace = settings.shutdown_grace_seconds
            cap = connection_cap(
                settings.max_client_connections, open_files, settings.upstream_connections
            )
            sunset = (
                [("Sunset", format_datetime(settings.sunset, usegmt=True))]
                if settings.sunset is not None
                else []
            )
            refused = bridge.metrics.client_connections_refused.inc
            site = CappedSite(
                runner, host, port, cap, refused, sunset, reuse_port=worker is not None
            )
            await _listen(runner, site, host, port)
            bridges.append(runner)
        else:
            await _listen(runner, web.TCPSite(runner, host, port), host, port)
            others.append(runner)
    # What startup built lives as long as the process: take it out of the collector's
    # sight, so collections during traffic walk only the objects requests create.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if on_hangup is not None:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, on_hangup)
    if worker is not None:
        worker.report_listening()
    await stop.wait()
    await shut_down(bridges, others, grace)


def _serve_options(args: argparse.Namespace) -> list[str]:
    """The ``serve`` options as given, for a worker to load the same settings."""
    options = []
    for flag, value in (
        ("--config", args.config and args.config.resolve()),
        ("--host", args.host),
        ("--port", args.port),
        ("--workers", args.workers),
    ):
        if value is not None:
            options += [flag, str(value)]
    return options


def _cmd_serve(args: argparse.Namespace) -> int:
    settings, keys = _load(args.config, host=args.host, port=args.port, workers=args.workers)
    configure_logging(settings.log_level, settings.log_format)
    worker = WorkerSlot.from_environment()
    if worker is None and settings.workers > 1:
        require_reuse_port(settings.workers)
        print(
            f"homerun-bridge: starting {settings.workers} workers on "
            f"http://{settings.host}:{settings.port} -> {settings.upstream_url}",
            file=sys.stderr,
        )
        return supervise(settings, [sys.executable, "-m", "proxy", "serve", *_serve_options(args)])
    if worker is not None:
        worker.follow_supervisor()
        worker.bind_log_context()
        settings = worker.own_settings(settings)
    else:
        print(
            f"homerun-bridge listening on http://{settings.host}:{settings.port} "
            f"-> {settings.upstream_url}",
            file=sys.stderr,
        )
    configure_tracing()
    app = create_app(settings, keys)
    asyncio.run(
        _serve_until_stopped(
            (app, settings.host, settings.port),
            on_hangup=lambda: reload_key_map(app, lambda: _load(args.config)[1]),
            idle_timeout=settings.idle_timeout_seconds,
            worker=worker,
        )
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sandbox import SandboxConfig
    from sandbox import create_app as create_sandbox

    entries = []
    for label, v1_key, env, v2_key in DEMO_KEYS:
        os.environ.setdefault(env, v2_key)
        entries.append(
            KeyEntry(label=label, v1_key_sha256=hash_key(v1_key), v2_key_env=env, v2_key_file=None)
        )
    rate = None if args.sandbox_rate_limit == "off" else int(args.sandbox_rate_limit)
    settings, keys = _load(
        None,
        host=args.host,
        port=args.port,
        upstream_url=f"http://127.0.0.1:{args.sandbox_port}/v2",
        keys=[e.model_dump() for e in entries],
        key_mode="mapped",
    )
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing()
    sandbox = create_sandbox(SandboxConfig(seed=args.seed, rate_limit_per_minute=rate))
    print(
        f"homerun-bridge demo: bridge on http://{settings.host}:{settings.port}/v1 "
        f"(v1 keys demo-v1-key, demo-v1-readonly), sandbox API v2 on "
        f"http://127.0.0.1:{args.sandbox_port}/v2\n"
        f"  try: curl -u demo-v1-key: http://{settings.host}:{settings.port}/v1/jobs",
        file=sys.stderr,
    )
    asyncio.run(
        _serve_until_stopped(
            (sandbox, "127.0.0.1", args.sandbox_port),
            (create_app(settings, keys), settings.host, settings.port),
            idle_timeout=settings.idle_timeout_seconds,
        )
    )
    return 0


def _cmd_hash_key(args: argparse.Namespace) -> int:
    key = args.key if args.key is not None else getpass.getpass("v1 key: ")
    if not key:
        print("hash-key: the key is empty", file=sys.stderr)
        return 2
    print(hash_key(key))
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from proxy import browsers

    settings, keys = _load(args.config, workers=args.workers)
    require_reuse_port(settings.workers)
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(
        f"configuration OK: {len(keys.labels)} key(s) ({', '.join(keys.labels) or 'passthrough'}), "
        f"upstream {settings.upstream_url}, store {settings.store_url.split('@')[-1]}{workers}"
    )
    print(browsers.describe(settings))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from proxy.store_factory import open_store
    from proxy.usage import migration_report, render_report

    settings = load_settings(args.config)
    if settings.store_url.startswith("memory:"):
        print(
            "report: the store is in memory (one process); point store_url at the Redis the "
            "bridge uses, or ask a running bridge: GET /_bridge/ (GET /_bridge/usage.json)",
            file=sys.stderr,
        )
        return 2

    async def read() -> dict[str, object]:
        store = open_store(settings.store_url, settings.store_prefix)
        try:
            return await migration_report(
                store,
                quiet_days=settings.retirement_quiet_days,
                configured_labels=[entry.label for entry in settings.keys],
            )
        finally:
            await store.close()

    report = asyncio.run(read())
    print(json.dumps(report, indent=2) if args.json else render_report(report))
    return 0


def _cmd_config_reference(args: argparse.Namespace) -> int:
    from proxy.settings_doc import settings_reference

    print(settings_reference())
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import run

    run(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="homerun-bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the bridge")
    serve.add_argument("--config", type=Path, help="TOML configuration file")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the port (overrides the workers setting; >1 needs Redis)",
    )
    serve.set_defaults(func=_cmd_serve)

    demo = commands.add_parser("demo", help="run the bridge in front of an embedded sandbox")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--sandbox-port", type=int, default=8081)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--sandbox-rate-limit", default="60", help="requests/min, or off")
    demo.set_defaults(func=_cmd_demo)

    from sandbox.cli import add_arguments

    sandbox = commands.add_parser("sandbox", help="run the API v2 simulator")
    add_arguments(sandbox)
    sandbox.set_defaults(func=_cmd_sandbox)

    hasher = commands.add_parser("hash-key", help="print the SHA-256 digest of a v1 key")
    hasher.add_argument("key", nargs="?", help="the v1 key (prompted for when left out)")
    hasher.set_defaults(func=_cmd_hash_key)

    report = commands.add_parser("report", help="which integration still uses which v1 call")
    report.add_argument("--config", type=Path)
    report.add_argument("--json", action="store_true", help="print JSON instead of text")
    report.set_defaults(func=_cmd_report)

    reference = commands.add_parser(
        "config-reference", help="print every setting as a Markdown table"
    )
    reference.set_defaults(func=_cmd_config_reference)

    check = commands.add_parser("check-config", help="validate a configuration and exit")
    check.add_argument("--config", type=Path)
    check.add_argument("--workers", type=int, metavar="N", help="as serve --workers")
    check.set_defaults(func=_cmd_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"homerun-bridge: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
