"""Tests of ``mappings``, the pure v1 <-> v2 translation core (no I/O, no sockets)."""
