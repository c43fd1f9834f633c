"""Suite-wide fixtures: the sandbox plugin (with spec checking of every v2 answer)."""

pytest_plugins = ["tests.conftest_sandbox", "tests.redis_support"]
