"""Suite-wide fixtures: the sandbox plugin (with spec checking of every v2 answer), Redis,
and the Hypothesis profile (``tests.hypothesis_profiles``: derandomized unless told to
explore, and then the seed is printed in the header and under every failure)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import hypothesis_profiles

pytest_plugins = ["tests.conftest_sandbox", "tests.redis_support"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis's own plugin reads --hypothesis-seed after this hook: the session seed is it.
    if hypothesis_profiles.SEED is not None and config.getoption("hypothesis_seed") is None:
        config.option.hypothesis_seed = str(hypothesis_profiles.SEED)


def pytest_report_header(config: pytest.Config) -> str:
    return hypothesis_profiles.replay_hint()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        report.sections.append(("hypothesis", hypothesis_profiles.replay_hint()))
    return report
