"""Jobs (v1) are vacancies (v2).

Changes from v1 to v2, each undone here:
- ``jobs`` became ``vacancies``; ids keep their v2 form (``job_…``).
- status ``open`` became ``public``; ``private``, ``draft``, ``closed`` kept their names.
- the flat ``tmp_location`` / ``tmp_department`` became opt-in ``location`` and
  ``department`` objects (fetched with ``include[]``).
- ``seo_content`` and ``active_time`` are gone; they are rebuilt from title,
  description, share image, created_at and expires_at.
- dates became ISO 8601 strings (v1: UNIX seconds).

v2 guarantees only a vacancy's ``id`` (``homerun-v2.openapi.yaml``); what a missing
(absent or null) member becomes in v1:
- ``title`` -> ``title`` and ``seo_content.title`` null; ``status`` -> ``status`` null;
  ``description`` -> ``seo_content.description`` ``""``; every other flat member -> null
  (``tmp_location`` also when the location has neither name nor city).
- ``created_at`` -> ``created_at`` null and ``active_time`` ``[]``: no opening is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any, Final

from mappings.dates import to_unix_seconds
from mappings.errors import ParamError, V1ValidationError
from mappings.memo import SizedMemo
from mappings.pagination import V2_MAX_PER_PAGE, PageCall
from mappings.plan import V2Request
from mappings.v2_models import PageMeta, Vacancy

JOB_INCLUDES: Final = ("location", "department", "total_candidate_count")
V1_TO_V2_STATUS: Final = {
    "open": "public",
    "private": "private",
    "draft": "draft",
    "closed": "closed",
}
V2_TO_V1_STATUS: Final = {v: k for k, v in V1_TO_V2_STATUS.items()}
SEO_DESCRIPTION_LENGTH: Final = 160
_WHITESPACE: Final = re.compile(r"\s+")


# Tags that end a line or a block; inline tags (a, em, strong…) sit inside words and sentences.
_BLOCK_TAGS: Final = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5"
    " h6 header hr li main nav ol p pre section table td th tr ul".split()
)


_HIDDEN_TAGS: Final = frozenset({"script", "style"})
# Lenient input: v2's own status words are understood too.
_STATUS_ALIASES: Final = {"public": "public"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0  # inside <script>/<style>: code, not words

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        # Block tags separate words that would otherwise run together.
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self._hidden:
            self._hidden -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")


def plain_text(markup: str) -> str:
    """v2 descriptions are HTML; v1's SEO description was plain text."""
    if "<" not in markup and "&" not in markup:
        return _WHITESPACE.sub(" ", markup).strip()
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    # The parser already turned character references into text: unescaping again would
    # make a literal "&lt;" (written "&amp;lt;") into "<".
    return _WHITESPACE.sub(" ", "".join(extractor.parts)).strip()


# Parsing the HTML is by far the largest cost of translating a vacancy, and a careers
# site lists the same few vacancies on every page view: kept per description text.
_seo_descriptions: Final = SizedMemo[str, str](max_size=1_000_000)  # characters of markup


def seo_description(markup: str) -> str:
    """The v1 SEO description: the plain text of the v2 description, cut to 160."""
    return _seo_descriptions.get(
        markup, len(markup), lambda: plain_text(markup)[:SEO_DESCRIPTION_LENGTH]
    )


def _include_query() -> tuple[tuple[str, str], ...]:
    return tuple(("include[]", name) for name in JOB_INCLUDES)


def v2_status_filter(query: Iterable[tuple[str, str]]) -> str | None:
    """v1 ``status=open`` -> v2 ``filter[status]=public``; comma lists accepted."""
    wanted: list[str] = []
    for key, value in query:
        if key not in ("status", "status[]"):
            continue
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            v2_word = V1_TO_V2_STATUS.get(word) or _STATUS_ALIASES.get(word)
            if v2_word is None:
                raise V1ValidationError(
                    [ParamError("status", "must be one of open, private, draft, closed")]
                )
            wanted.append(v2_word)
    return ",".join(dict.fromkeys(wanted)) or None


def list_vacancies_request(call: PageCall, status_filter: str | None) -> V2Request:
    """``GET /v1/jobs`` -> ``GET /vacancies`` with the includes a v1 job needs."""
    query = [("page", str(call.page)), ("perPage", str(call.per_page))]
    if status_filter:
        query.append(("filter[status]", status_filter))
    query.extend(_include_query())
    return V2Request("GET", "/vacancies", tuple(query))


def whole_list_request(page: int) -> V2Request:
    """One page of the key's whole vacancy list (every status, 100 a page, the includes a
    job needs): what embeds whole jobs in applications (contract §6 rev 2). The call is
    the one ``GET /v1/jobs?per_page=100&page=N`` plans, so both share the read cache."""
    return list_vacancies_request(PageCall(page, V2_MAX_PER_PAGE), None)


def whole_list_continues(page: int, shown: int, meta: PageMeta | None) -> bool:
    """Whether page ``page`` of the whole vacancy list (``shown`` items) has a next page.

    v2 guarantees no ``meta``: without ``last_page`` or ``total``, a full page may have a
    next one (an empty page then ends the list). An empty page always ends it.
    """
    if shown == 0:
        return False
    if meta is not None and meta.last_page is not None:
        return page < meta.last_page
    if meta is not None and meta.total is not None:
        return page * V2_MAX_PER_PAGE < meta.total
    return shown >= V2_MAX_PER_PAGE


def get_vacancy_request(vacancy_id: str) -> V2Request:
    """``GET /v1/jobs/{id}`` -> ``GET /vacancies/{id}`` with the includes."""
    return V2Request("GET", f"/vacancies/{vacancy_id}", _include_query())


def vacancy_to_job(vacancy: Vacancy) -> dict[str, Any]:
    """A v2 vacancy as the v1 job object."""
    created_at = to_unix_seconds(vacancy.created_at)
    location = vacancy.location
    tmp_location = (location.name or location.city) if location else None
    closed_at = to_unix_seconds(vacancy.expires_at) if vacancy.status == "closed" else None
    description = seo_description(vacancy.description or "")
    active_time = [] if created_at is None else [{"opened_at": created_at, "closed_at": closed_at}]
    return {
        "id": vacancy.id,
        "title": vacancy.title,
        "status": V2_TO_V1_STATUS[vacancy.status] if vacancy.status else None,
        "type": vacancy.type,
        "tmp_location": tmp_location,
        "tmp_department": vacancy.department.name if vacancy.department else None,
        "total_candidate_count": vacancy.total_candidate_count,
        "application_form_url": vacancy.application_form_url,
        "job_url": vacancy.job_url,
        "seo_content": {
            "title": vacancy.title,
            "description": description,
            "image": vacancy.share_image_url,
        },
        "created_at": created_at,
        "active_time": active_time,
    }
