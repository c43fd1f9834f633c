"""The Hypothesis profiles every property and schemathesis suite runs under.

``HYPOTHESIS_PROFILE`` picks one (default ``ci``):

``ci``       derandomized: every run draws the same examples (``make test``, ``.ci/run``), so a
             fresh clone cannot fail on a draw nobody can replay; a failure prints the
             shrunk example and its ``@reproduce_failure`` blob.
``explore``  a fresh seed per session, printed in the pytest header and under every failed
             test; ``HYPOTHESIS_PROFILE=explore HYPOTHESIS_SEED=<seed>`` replays that session.
"""

from __future__ import annotations

import os
import random
from typing import Final

from hypothesis import settings

PROFILE: Final = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "explore"):
    raise SystemExit(f"HYPOTHESIS_PROFILE={PROFILE!r}: use ci or explore")

# None under ci: there the seed is derived from each test's name (derandomize).
SEED: Final[int | None] = (
    None
    if PROFILE == "ci"
    else int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().getrandbits(32))
)

settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(PROFILE)


def replay_hint() -> str:
    """How to draw the same examples again."""
    if SEED is None:
        return "hypothesis profile ci: derandomized, every run draws the same examples"
    return f"hypothesis seed {SEED}: replay with HYPOTHESIS_PROFILE=explore HYPOTHESIS_SEED={SEED}"
