"""Request ids (``proxy.context.new_request_id``): random UUID4 hex drawn from a page of
``os.urandom``, distinct, and never repeated by a forked worker."""

from __future__ import annotations

import os
import uuid

from proxy.context import new_request_id


def test_ids_are_distinct_uuid4_hex() -> None:
    ids = [new_request_id() for _ in range(3000)]  # several pages of the pool
    assert len(set(ids)) == len(ids)
    for rid in ids:
        parsed = uuid.UUID(hex=rid)
        assert parsed.hex == rid
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_a_forked_child_draws_its_own_bytes() -> None:
    new_request_id()  # the parent's pool holds a page now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports and leaves
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(child, 0)
    assert len(theirs) == 32
    assert theirs != new_request_id(), "the child handed out the parent's next id"
