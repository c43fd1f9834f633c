"""The hostile-input suite reuses the end-to-end fixtures: a real bridge before a real sandbox."""

from tests.proxy.conftest import bridge_env, harness, make_harness

__all__ = ["bridge_env", "harness", "make_harness"]
