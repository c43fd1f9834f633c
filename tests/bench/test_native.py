"""The bench's native anchor: nginx's configuration, its start in front of the sandbox, and
the visible skip where nginx is absent.

Real processes on real sockets (``nginx``, ``python -m sandbox``); nothing here measures
time. The tests that run nginx skip, saying why, where it is not installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp
import pytest

from bench import harness, native
from proxy import browsers

NGINX = native.nginx_binary({})


def needs_nginx() -> Path:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    return NGINX


def test_every_path_nginx_writes_is_inside_its_folder(tmp_path: Path) -> None:
    config = native.nginx_config(8091, 8081, tmp_path)
    assert "daemon off;" in config and "master_process off;" in config
    assert "access_log off;" in config
    assert f"pid {tmp_path / 'nginx.pid'};" in config
    for name in native.TEMP_PATHS:
        assert f"{name}_temp_path {tmp_path / ('temp-' + name)};" in config
    paths = [w.rstrip(";") for w in config.split() if w.startswith("/") and w != "/"]
    assert paths and all(Path(p).is_relative_to(tmp_path) for p in paths), paths
    assert "listen 127.0.0.1:8091;" in config, "loopback only"
    assert "server 127.0.0.1:8081;" in config and "keepalive 32;" in config
    assert 'proxy_set_header Connection "";' in config, "kept-open connections upstream"
    assert "proxy_set_header Host 127.0.0.1:8081;" in config, "v2's links as through the hop"
    assert f"gzip_comp_level {native.GZIP_LEVEL};" in config, "the bridge's own level"


def test_the_generated_configuration_is_one_nginx_accepts(tmp_path: Path) -> None:
    binary = needs_nginx()
    config = tmp_path / "nginx.conf"
    config.write_text(native.nginx_config(harness.free_port(), harness.free_port(), tmp_path))
    checked = subprocess.run(
        [str(binary), "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_nginx_gzips_at_the_level_the_bridge_gzips_at() -> None:
    assert native.GZIP_LEVEL == browsers.GZIP_FAST_LEVEL


def test_which_nginx_the_bench_runs(tmp_path: Path) -> None:
    assert native.nginx_binary({"NGINX": ""}) is None, "an empty NGINX turns the anchor off"
    assert native.nginx_binary({"NGINX": str(tmp_path / "absent")}) is None
    script = tmp_path / "nginx"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert native.nginx_binary({"NGINX": str(script)}) == script
    assert "nginx not found" in native.absent_line()


async def test_nginx_proxies_to_the_sandbox_keeps_its_bytes_and_gzips_when_asked() -> None:
    binary = needs_nginx()
    async with (
        harness.sandbox() as upstream,
        native.nginx(upstream.base, None, binary) as proxy,
        aiohttp.ClientSession(
            auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
        ) as http,
    ):
        path = "/v2/vacancies?perPage=100"  # no download tokens: the same bytes each time
        async with http.get(upstream.base + path, headers=harness.V2_AUTH) as response:
            direct = await response.read()
        async with http.get(proxy.base + path, headers=harness.V2_AUTH) as response:
            assert response.status == 200
            assert "Content-Encoding" not in response.headers
            assert await response.read() == direct, "identity bytes pass unchanged"
        gzip = {**harness.V2_AUTH, "Accept-Encoding": "gzip"}
        async with http.get(proxy.base + path, headers=gzip) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert len(await response.read()) < len(direct) / 4
        assert harness.process_tree(proxy.pid) == [proxy.pid], "one process: master_process off"
        assert harness.cpu_seconds(proxy.pid) > 0
    assert not proxy.alive, "stopped with the block"


async def test_an_nginx_that_cannot_start_fails_with_its_error_log(tmp_path: Path) -> None:
    script = tmp_path / "nginx"
    script.write_text("#!/bin/sh\necho 'nginx: [emerg] no such directive' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(RuntimeError, match="exited with status 1") as failed:
        async with native.nginx("http://127.0.0.1:9", None, script):
            pytest.fail("an nginx that exits must not be entered")
    assert "no such directive" in str(failed.value)
