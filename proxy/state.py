"""The app's typed state and the one way a v1 answer is written.

``Bridge`` is what every handler needs, built once per app by ``proxy.app.create_app``
and kept under the ``BRIDGE`` app key; ``json_response`` writes every v1 answer, errors
included. Handlers, middleware and operator routes import these from here, and
``proxy.app`` imports them, so no module needs ``proxy.app`` to answer a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

import orjson
from aiohttp import web

from proxy.config import BridgeSettings
from proxy.drafts import DraftBook
from proxy.keys import KeyMap
from proxy.metrics import BridgeMetrics
from proxy.rendered import RenderedAnswers
from proxy.store import Store
from proxy.upstream import UpstreamClient
from proxy.usage import UsageBook

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The v1 retirement headers every /v1 answer carries (contract §1).
DEPRECATION: Final = "@1701388800"
DEPRECATION_LINK: Final = (
    '<https://help.homerun.co/en/articles/7966784-api-migration-guide-v1-to-v2>; rel="deprecation"'
)


@dataclass(slots=True)
class Bridge:
    """What every handler needs, built once per app."""

    settings: BridgeSettings
    keys: KeyMap
    upstream: UpstreamClient
    store: Store
    drafts: DraftBook
    metrics: BridgeMetrics
    usage: UsageBook
    # v1 answers kept rendered (proxy.rendered), sized by the settings.
    rendered: RenderedAnswers = field(init=False)

    def __post_init__(self) -> None:
        self.rendered = RenderedAnswers(
            self.settings.rendered_answers,
            self.metrics.registry,
            gzip_min_bytes=self.settings.gzip_min_bytes,
        )


BRIDGE: Final = web.AppKey("bridge", Bridge)


def json_response(
    body: object, status: int = HTTPStatus.OK, headers: dict[str, str] | None = None
) -> web.Response:
    """Every v1 answer: JSON, UTF-8, errors included."""
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )
