"""What browsers cost the bridge (gzip, CORS, HEAD): rows of the overhead bench now.

    .venv/bin/python -m tests.browser.measure_browsers [options of bench.overhead]

runs ``python -m bench.overhead`` on its browser rows only (``make bench`` runs them with
every other row): the 100-item page with and without ``Accept-Encoding: gzip`` (bytes on
the wire, CPU per request against the hop and nginx, which gzips at the same level), a
cached read from the widget's origin, the CORS preflight answered by the bridge itself
(no v2 call), and ``HEAD`` on the job list. Not a test: nothing here gates on a time.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bench import overhead

BROWSER_ROWS = ("HEAD", "CORS", "gzip", "per_page 100")


def arguments(argv: Sequence[str]) -> list[str]:
    """The bench's arguments for the browser rows (later options win)."""
    return ["--only", *BROWSER_ROWS, "--skip-upload", "--skip-workers", *argv]


def main(argv: Sequence[str] | None = None) -> None:
    overhead.main(arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
