"""``GET /v1/openapi.json`` is a valid OpenAPI 3.1 document of exactly the served routes."""

from __future__ import annotations

from openapi_spec_validator import validate

from proxy.v1_routes import ROUTES
from tests.proxy.conftest import Harness


async def test_document_is_valid_and_lists_every_route(harness: Harness) -> None:
    async with await harness.get("/v1/openapi.json", auth=None) as response:
        assert response.status == 200
        document = await response.json()
    validate(document)
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {(method, path) for method, path, _ in ROUTES}
    assert documented == served
