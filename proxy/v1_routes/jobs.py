"""Jobs: v2 vacancies, shown as v1 jobs."""

from __future__ import annotations

from aiohttp import web

from mappings import jobs
from mappings.v2_models import OneVacancy, VacancyPage
from proxy.calls import fetch, fetch_window
from proxy.embeds import remember_vacancies
from proxy.paging import page_answer, window_of
from proxy.state import json_response
from proxy.v1_input import declared_query, path_id


async def list_jobs(request: web.Request) -> web.Response:
    window = await window_of(request)
    status = jobs.v2_status_filter(declared_query(request))
    vacancies, total, has_more = await fetch_window(
        request, window, lambda call: jobs.list_vacancies_request(call, status), VacancyPage
    )
    await remember_vacancies(request, vacancies)
    found = [jobs.vacancy_to_job(v) for v in vacancies]
    return await page_answer(request, window, found, total, has_more)


async def get_job(request: web.Request) -> web.Response:
    job_id = path_id(request, "id", "job")
    found = await fetch(
        request, jobs.get_vacancy_request(job_id), OneVacancy, not_found=f"No such job: {job_id}"
    )
    await remember_vacancies(request, [found.data])
    return json_response(jobs.vacancy_to_job(found.data))
