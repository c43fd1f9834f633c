"""Command line for running the sandbox on its own.

`python -m sandbox --port 8081 [--seed N] [--rate-limit 60|off] [--faults] [--sparse]`.
The bridge's CLI reuses `add_arguments` and `run` for its `homerun-bridge sandbox` subcommand.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from sandbox.app import create_app
from sandbox.config import SandboxConfig


def rate_limit_value(raw: str) -> int | None:
    """`off` (or `none`/`0`) disables the limiter; otherwise requests per minute."""
    if raw.strip().lower() in ("off", "none", "0"):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of requests or 'off', got {raw!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError("the rate limit must be at least 1 (or 'off')")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind (default 8081)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the demo data (default 1)")
    parser.add_argument(
        "--rate-limit",
        type=rate_limit_value,
        default=60,
        metavar="N|off",
        help="requests per key per minute, or 'off' (default 60)",
    )
    parser.add_argument(
        "--faults", action="store_true", help="enable the fault-injection admin API and reset"
    )
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="answer only what the spec guarantees: optional members left out or null, seeded",
    )
    parser.add_argument(
        "--sparse-seed",
        type=int,
        default=None,
        help="seed of the sparse answers (default: the --seed)",
    )
    parser.add_argument(
        "--public-base-url",
        default=None,
        help="scheme and host used in URLs the sandbox hands out (default: from each request)",
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        seed=args.seed,
        rate_limit_per_minute=args.rate_limit,
        faults_enabled=args.faults,
        public_base_url=args.public_base_url,
        sparse=args.sparse,
        sparse_seed=args.sparse_seed,
    )


def run(args: argparse.Namespace) -> None:
    try:
        config = config_from_args(args)
    except ValueError as invalid:
        raise SystemExit(f"sandbox: {invalid}") from None
    web.run_app(create_app(config), host=args.host, port=args.port)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))
