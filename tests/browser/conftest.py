"""Browser fixtures: the end-to-end harness of ``tests/proxy`` (a real sandbox and a real
bridge on loopback), reused by importing its fixtures; each test sets its own origins."""

from __future__ import annotations

from tests.proxy.conftest import bridge_env, harness, make_harness

__all__ = ["bridge_env", "harness", "make_harness"]
