"""Loads the sandbox test plugin for this folder when tests/conftest.py has not already.

The lead's tests/conftest.py registers `tests.conftest_sandbox` for the whole suite; importing
it again here would be a no-op, and running `pytest tests/sandbox` alone still gets it.
"""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.conftest_sandbox")
