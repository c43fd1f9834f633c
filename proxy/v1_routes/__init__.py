"""The v1 face: one short handler per row of the contract's table (§7, declared once in
``mappings.v1_endpoints``), a module per resource.

Each handler reads like the data flow: parse and check the v1 request, plan the v2
calls with ``mappings``, perform them (``proxy.calls``), translate the answers, respond.
Lists page through ``proxy.paging``.

Writes (contract §3): once v2 answered 2xx, the answer is the success status with what
could be read (``mappings.write_answers``); an unreadable answer, a follow-up read or a
store call that fails afterwards is logged as ``write_answer_degraded``, never an error.
The shared store being down turns into another answer where one exists (a candidate id
is read as its application's), else a v1 503.

A handler is a public coroutine function of one of ``MODULES`` whose name a row of the
table gives; ``proxy.v1_router`` binds them and fails on a row without a handler or a
handler without a row.
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from proxy.v1_routes import applications, candidates, files, jobs, notes

MODULES: Final[tuple[ModuleType, ...]] = (jobs, candidates, applications, notes, files)
