"""The functional core of homerun-bridge: pure API v1 <-> API v2 translation.

One module per v1 resource (``jobs``, ``candidates``, ``applications``, ``notes``,
``files``) plus the shared pieces (``pagination``, ``dates``, ``ids``, ``forms``,
``errors``, ``plan``). Nothing here performs I/O or imports aiohttp/asyncio; the
``proxy`` package executes the v2 calls that these functions plan and feeds the
answers back in. An import-linter contract in ``pyproject.toml`` keeps it so.

Every difference between the two versions is one small named function whose
docstring says what changed: read the docstrings as the compatibility changelog.
"""
