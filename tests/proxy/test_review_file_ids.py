"""Two uploads of one file name to one application at once answer two ids, the ids the
files listing gives them: each upload's own read of the files came after both were
stored, and both answered the newest file of that name. Real sockets: the bridge in
front of the sandbox."""

from __future__ import annotations

import asyncio

from tests.proxy.conftest import Harness
from tests.proxy.test_ids_match import _listed, _routes, _upload


async def test_uploads_of_one_name_at_once_answer_the_ids_listed(harness: Harness) -> None:
    parent = _routes(harness)[0]
    made = await asyncio.gather(*(_upload(harness, parent, "cv.pdf") for _ in range(2)))
    answered = [upload["id"] for upload, _ in made]
    listed = [f["id"] for f in await _listed(harness, f"{parent}/files") if f["name"] == "cv.pdf"]
    assert sorted(answered) == sorted(listed[-2:]), "each upload answers its own listed id"
