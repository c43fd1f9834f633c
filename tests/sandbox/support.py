"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

DEMO_KEY = "demo-v2-key"
READONLY_KEY = "demo-readonly-v2-key"
NOPLAN_KEY = "demo-noplan-v2-key"
NONOTES_KEY = "demo-nonotes-v2-key"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class FakeClock:
    """A settable clock for SandboxConfig.clock: tests step over windows and expiries."""

    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def call(
    client: TestClient[Any, Any], method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """Status and decoded JSON body (None for an empty body)."""
    async with client.request(method, path, **kwargs) as response:
        raw = await response.read()
        if not raw:
            return response.status, None
        assert response.content_type == "application/json", response.content_type
        return response.status, await response.json()


def file_form(
    *,
    file_first: bool,
    file_type: str | None = "resume",
    content: bytes = b"%PDF-1.4 cv",
    filename: str = "my-resume.pdf",
    content_type: str = "application/pdf",
) -> FormData:
    """A /files body with its parts in the chosen order (the bridge streams client order)."""
    form = FormData()
    if not file_first and file_type is not None:
        form.add_field("type", file_type)
    form.add_field("file", content, filename=filename, content_type=content_type)
    if file_first and file_type is not None:
        form.add_field("type", file_type)
    return form


def details_params(body: dict[str, Any]) -> list[str]:
    return [item["param"] for item in body["details"]]


async def status_of(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> int:
    return (await call(client, method, path, **kwargs))[0]
