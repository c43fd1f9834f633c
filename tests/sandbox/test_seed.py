"""Seed data: deterministic per seed, varied, covering the edge cases clients must handle."""

from __future__ import annotations

import re
import time
from typing import Any

from sandbox import SandboxConfig
from sandbox.seed import generate_seed_data
from sandbox.state import SandboxState
from tests.conftest_sandbox import StartSandbox
from tests.sandbox.support import bearer, call

ID_SHAPE = {"job_": re.compile(r"job_[A-Za-z0-9]{20}"), "ap_": re.compile(r"ap_[A-Za-z0-9]{20}")}


async def dump_everything(client: Any) -> list[Any]:
    pages = []
    for query in (
        "/v2/vacancies?perPage=100&include[]=location,department,stages",
        "/v2/job-applications?perPage=100&include[]=stage,sources",
    ):
        page = 1
        while True:
            status, body = await call(client, "GET", f"{query}&page={page}")
            assert status == 200
            pages.append(body["data"])
            if page >= body["meta"]["last_page"]:
                break
            page += 1
    return pages


async def test_same_seed_same_data_different_seed_different_data(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    dumps = []
    for seed in (7, 7, 8):
        sandbox = await start_sandbox(seed=seed)
        client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
        dumps.append(await dump_everything(client))
    assert dumps[0] == dumps[1]
    assert dumps[0] != dumps[2]


def test_generation_is_independent_of_global_random_and_time() -> None:
    import random

    first = generate_seed_data(3)
    random.seed(999)
    random.random()
    second = generate_seed_data(3)
    assert first == second


def test_seed_sizes_and_variety() -> None:
    for seed in (1, 2, 12345):
        data = generate_seed_data(seed)
        vacancies, applications = data.vacancies, data.applications
        assert len(vacancies) >= 12 and len(applications) >= 250
        assert {v.status for v in vacancies} == {"public", "private", "draft", "closed"}
        assert any(v.location is None for v in vacancies) and any(v.location for v in vacancies)
        assert any(v.department is None for v in vacancies) and any(v.department for v in vacancies)
        assert any(v.type is None for v in vacancies) and len({v.type for v in vacancies}) >= 4
        assert any(v.expires_at for v in vacancies) and any(v.expires_at is None for v in vacancies)
        assert any(not v.stages for v in vacancies)
        assert any(v.stages[:4] == ["New", "Interview", "Offer", "Hired"] for v in vacancies)
        assert len({tuple(v.stages) for v in vacancies}) >= 3
        assert all(ID_SHAPE["job_"].fullmatch(v.id) for v in vacancies)
        assert all(ID_SHAPE["ap_"].fullmatch(a.id) for a in applications)
        assert len({a.id for a in applications}) == len(applications)
        assert sum(a.vacancy_id is None for a in applications) >= 10
        assert sum(a.hired_at is not None for a in applications) >= 5
        assert sum(a.disqualified for a in applications) >= 5
        assert len({a.rating for a in applications}) >= 5
        assert any(a.city is None for a in applications) and any(
            a.phone_number is None for a in applications
        )
        assert any(a.date_of_birth is None for a in applications)
        assert any(a.education for a in applications) and any(a.custom_data for a in applications)
        assert any(a.linkedin for a in applications) and any(a.sources for a in applications)
        assert sum(bool(a.notes) for a in applications) >= len(applications) // 3
        assert any(n.is_sensitive for a in applications for n in a.notes)
        assert sum(bool(a.files) for a in applications) >= 20
        assert any(f.type == "assignment" for a in applications for f in a.files)
        by_id = {v.id: v for v in vacancies}
        for application in applications:
            if application.vacancy_id is not None:
                vacancy = by_id[application.vacancy_id]
                assert vacancy.status != "draft" and application.stage in vacancy.stages
                assert application.created_at >= vacancy.created_at
            assert application.created_at.year in (2023, 2024)
            assert application.hired_at is None or application.stage == "Hired"


def test_start_up_is_fast() -> None:
    started = time.perf_counter()
    SandboxState(SandboxConfig(seed=42))
    assert time.perf_counter() - started < 0.5
