"""Offline simulator of Homerun API v2: the bridge's test upstream and demo backend.

    from sandbox import SandboxConfig, create_app
    web.run_app(create_app(SandboxConfig(seed=1)), host="127.0.0.1", port=8081)

It follows /work/shared/spec/homerun-v2.md and homerun-v2.openapi.yaml, taking the spec's
"Simulator:" recommendation wherever the real behaviour is INFERRED.
"""

from sandbox.app import SANDBOX_STATE, create_app
from sandbox.config import ALL_SCOPES, DEMO_KEYS, KeySpec, SandboxConfig

__all__ = ["ALL_SCOPES", "DEMO_KEYS", "SANDBOX_STATE", "KeySpec", "SandboxConfig", "create_app"]
