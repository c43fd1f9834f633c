"""`python -m sandbox`: run the API v2 simulator (see sandbox/cli.py for the options)."""

from sandbox.cli import main

main()
