"""``python -m proxy`` is ``homerun-bridge``."""

from proxy.cli import main

raise SystemExit(main())
