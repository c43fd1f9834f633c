"""bench.profile's reading of py-spy's raw output (no py-spy needed: the text is given)."""

from __future__ import annotations

from bench import profile

ROOT = str(profile.PROJECT)
SITE = "/work/main/.venv/lib/python3.11/site-packages"
RAW = f"""\
<module> ({ROOT}/proxy/__main__.py:3);main ({ROOT}/proxy/cli.py:10);list_jobs ({ROOT}/proxy/v1_routes/jobs.py:17);vacancy_to_job ({ROOT}/mappings/jobs.py:40) 6
<module> ({ROOT}/proxy/__main__.py:3);main ({ROOT}/proxy/cli.py:10);list_jobs ({ROOT}/proxy/v1_routes/jobs.py:17);validate_python ({SITE}/pydantic/main.py:600) 3
_run_once (/root/.pyenv/versions/3.11.7/lib/python3.11/asyncio/base_events.py:1900) 1

"""  # noqa: E501


def test_samples_are_attributed_to_their_innermost_place_and_own_functions() -> None:
    stacks = profile.parse_raw(RAW.splitlines())
    assert [count for _, count in stacks] == [6, 3, 1]
    found = profile.Profile.of(stacks)
    assert found.total == 10
    assert found.by_place == {"mappings/jobs.py": 6, "pydantic": 3, "asyncio": 1}
    assert found.by_function["proxy/v1_routes/jobs.py:list_jobs"] == 9
    assert found.by_function["mappings/jobs.py:vacancy_to_job"] == 6
    assert not any("cli.py" in name for name in found.by_function), "entry points left out"
    text = "\n".join(found.lines())
    assert "| mappings/jobs.py | 60.0% |" in text and "| pydantic | 30.0% |" in text
    assert "| the bridge's code (proxy/, mappings/) | 60.0% |" in text
    assert "| aiohttp, asyncio, sockets (server, client, loop) | 10.0% |" in text


def test_a_frame_without_a_file_keeps_its_text() -> None:
    frame = profile.parse_frame("<native>")
    assert frame.function == "<native>" and frame.place == "?"
