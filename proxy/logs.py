"""Logging with structlog: one JSON object per line, or a console view on a terminal.

Secrets never reach a line: a processor drops any value under a key that names a
secret (authorization, key, token, password) and masks anything that looks like an
``Authorization`` header value, whatever the key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import orjson
import structlog

_SECRET_KEYS: Final = re.compile(
    r"(authorization|api[_-]?key|v[12]_key|token|password|secret)", re.IGNORECASE
)
_SECRET_VALUES: Final = re.compile(r"\b(Basic|Bearer)\s+\S+", re.IGNORECASE)
_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


_secret_key_memo: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    """Whether a key names a secret (memoised: keys come from the code, a few dozen)."""
    secret = _secret_key_memo.get(key)
    if secret is None:
        secret = _SECRET_KEYS.search(key) is not None
        if len(_secret_key_memo) < 4096:
            _secret_key_memo[key] = secret
    return secret


def _may_hold_secret(value: str) -> bool:
    """False when the value cannot match ``_SECRET_VALUES``: ASCII text without either
    word (for ASCII text, re.IGNORECASE is exactly ``str.lower``). Other text: maybe."""
    if not value.isascii():
        return True
    lowered = value.lower()
    return "basic" in lowered or "bearer" in lowered


def redact_secrets(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key == "key_label":
            continue
        if _is_secret_key(key):
            event[key] = "[redacted]"
        elif isinstance(value, str) and _may_hold_secret(value):
            event[key] = _SECRET_VALUES.sub(r"\1 [redacted]", value)
    return event


class _StdoutLogger:
    """Writes each line to the current ``sys.stdout``; a failing write never fails a request."""

    def msg(self, message: str) -> None:
        try:
            # One write (print() makes two: the line, then its end, each a system call
            # when Python runs unbuffered).
            out = sys.stdout
            if out is None:
                return
            out.write(message + "\n")
            out.flush()
        except (OSError, ValueError):
            pass

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stdout_logger(*_args: Any) -> _StdoutLogger:
    return _StdoutLogger()


def _json_line(event: Any, **options: Any) -> str:
    """structlog's JSON rendering with orjson (several times faster than ``json``);
    what orjson cannot encode goes through structlog's fallback (``default``)."""
    return orjson.dumps(event, default=options.get("default")).decode()


class _LibraryRecords(logging.Handler):
    """The libraries' stdlib records (asyncio, aiohttp) as lines of ours: one line each,
    a traceback inside it (``exception``) rather than over many lines of stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                fields["exc_info"] = record.exc_info
            structlog.get_logger(record.name).log(record.levelno, record.getMessage(), **fields)
        except Exception:
            self.handleError(record)


class BoundOnce:
    """A logger bound once per logging configuration, for the lines written on every
    request: structlog's lazy proxy binds a new logger on each call (about 9 µs of the
    access line's 22 µs). ``configure_logging`` makes it bind again; the processors list
    is the configured one itself, so ``structlog.testing.capture_logs`` (which edits it in
    place) still sees every line."""

    _configuration = 0  # bumped by configure_logging

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None
        self._of = -1

    def get(self) -> Any:
        if self._of != BoundOnce._configuration:
            self._bound = structlog.get_logger(self._name).bind()
            self._of = BoundOnce._configuration
        return self._bound


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(serializer=_json_line)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stdout_logger,
        cache_logger_on_first_use=False,
    )
    BoundOnce._configuration += 1
    # aiohttp's own access log duplicates ours.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    root = logging.getLogger()
    if not any(isinstance(handler, _LibraryRecords) for handler in root.handlers):
        root.addHandler(_LibraryRecords(logging.WARNING))
