"""Routes that serve stored bytes without authentication: temporary file URLs and photos.

`GET /files/{token}` plays the pre-signed storage URL of API v2 (valid for a few minutes after
the application was rendered; 410 once expired, 404 for a token never issued or a deleted
application). `GET /photos/{token}` serves the photo uploaded through `/photo`.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import quote

import orjson
from aiohttp import web

from sandbox.errors import error_body
from sandbox.files import GrantStatus
from sandbox.state import SANDBOX_STATE


def _error(status: HTTPStatus, message: str | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(error_body(status, message)),
        content_type="application/json",
    )


async def download_file(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    status, grant = state.downloads.lookup(request.match_info["token"])
    if status is GrantStatus.EXPIRED:
        return _error(HTTPStatus.GONE, "This download link has expired.")
    if grant is None or grant.application_id not in state.applications:
        return _error(HTTPStatus.NOT_FOUND)
    disposition = f"attachment; filename*=UTF-8''{quote(grant.file.name)}"
    return web.Response(
        body=grant.file.content,
        headers={"Content-Type": grant.file.content_type, "Content-Disposition": disposition},
    )


async def download_photo(request: web.Request) -> web.Response:
    photo = request.app[SANDBOX_STATE].photos.get(request.match_info["token"])
    if photo is None:
        return _error(HTTPStatus.NOT_FOUND)
    return web.Response(body=photo.content, headers={"Content-Type": photo.content_type})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/files/{token}", download_file, allow_head=True)
    app.router.add_get("/photos/{token}", download_photo, allow_head=True)
