"""A 20 MB upload streams through the bridge: its peak memory stays flat.

The bridge runs as its own process here so that its peak resident memory (VmHWM) can
be read from /proc without counting the sandbox or the test client.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest_sandbox import RunningSandbox
from tests.proxy.processes import V1_KEY, spawn_bridge

MB = 1024 * 1024
PROC = Path("/proc")


def peak_rss_bytes(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM line")


@pytest.fixture
async def bridge_process(sandbox_server: RunningSandbox) -> AsyncIterator[tuple[str, int]]:
    async with spawn_bridge(sandbox_server.api_url) as bridge:
        yield bridge.base, bridge.pid


@pytest.mark.skipif(not PROC.exists(), reason="needs /proc to read peak memory")
async def test_20_mb_upload_keeps_peak_memory_flat(
    bridge_process: tuple[str, int], tmp_path: Path
) -> None:
    base, pid = bridge_process
    auth = aiohttp.BasicAuth(V1_KEY, "")
    blob = tmp_path / "portfolio.bin"
    with blob.open("wb") as handle:
        for _ in range(20):
            handle.write(os.urandom(MB))
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/v1/applications?per_page=1", auth=auth) as response:
            application_id = (await response.json())["data"][0]["id"]
        idle_peak = peak_rss_bytes(pid)
        with blob.open("rb") as handle:
            form = aiohttp.FormData()
            form.add_field("file", handle, filename="portfolio.bin")
            async with http.post(
                f"{base}/v1/applications/{application_id}/files", data=form, auth=auth
            ) as response:
                assert response.status == 201, await response.text()
                assert (await response.json())["name"] == "portfolio.bin"
        growth = peak_rss_bytes(pid) - idle_peak
    print(f"bridge peak RSS growth during a 20 MB upload: {growth / MB:.1f} MB")
    assert growth < 10 * MB, f"peak memory grew {growth / MB:.1f} MB for a 20 MB upload"


@pytest.mark.skipif(not PROC.exists(), reason="needs /proc")
async def test_26_mb_upload_is_413_before_it_completes(bridge_process: tuple[str, int]) -> None:
    base, _ = bridge_process
    auth = aiohttp.BasicAuth(V1_KEY, "")
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b"\0" * MB
        for _ in range(40):
            sent += len(chunk)
            yield chunk

    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/v1/applications?per_page=1", auth=auth) as response:
            application_id = (await response.json())["data"][0]["id"]
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append(endless())
        part.set_content_disposition("form-data", name="file", filename="huge.bin")
        try:
            async with http.post(
                f"{base}/v1/applications/{application_id}/files", data=writer, auth=auth
            ) as response:
                assert response.status == 413
                assert (await response.json())["status"] == 413
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            pass  # the bridge may close the connection while we are still sending
        assert sent < 40 * MB, "the bridge read the whole body before refusing it"
        async with http.get(f"{base}/v1/applications/{application_id}/files", auth=auth) as r:
            assert all(f["name"] != "huge.bin" for f in (await r.json())["data"])
