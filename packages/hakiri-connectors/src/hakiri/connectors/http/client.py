"""HTTP requests with retries: backoff with jitter, ``Retry-After``, one-line errors.

Retried: 429, 500, 502, 503, 504, connection errors and timeouts. Everything else fails at
once. Messages name the URL as configured (secret references, never their values) and pass
through the caller's ``redact`` as a last line of defence.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import httpx
import orjson

from hakiri.connectors.http.config import RetryConfig
from hakiri.core.errors import SourceError, SourceHttpError, SourceUnreachable
from hakiri.core.ports import Clock

__all__ = ["RETRY_STATUSES", "HttpRequest", "RetryingClient", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "hakiri-http/0.1"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send (secrets already substituted) and how to name it."""

    method: str
    url: str
    """Full URL with query string, as sent."""
    display: str
    """The URL for messages: as configured, secret references intact."""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return max(0.0, seconds) if not math.isnan(seconds) else None


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _transport_reason(exc: httpx.TransportError, timeout: float) -> str:
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connection timed out after {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no response within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text:
            return "connection refused"
        if any(
            marker in text
            for marker in ("name or service", "nodename", "name resolution", "getaddrinfo")
        ):
            return "host name not found"
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnect" in text:
        return "the server closed the connection without a response"
    return _one_line(str(exc)) or type(exc).__name__


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "check the token or secret in source.headers (is the secret set and current?)"
    if status == 404:
        return "check source.url"
    if status == 429:
        return "the API is rate limiting; try later or raise source.retry.max_attempts"
    if status >= 500:
        return "the server failed; try again later"
    return "check source.params, source.headers and source.body"


class RetryingClient:
    """One ``httpx.Client`` plus the retry policy; ``close()`` closes the connections."""

    def __init__(
        self,
        *,
        timeout: float,
        retry: RetryConfig,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._timeout = timeout
        self._retry = retry
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT},
        )
        self.attempts = 0
        """Requests sent so far, retries included."""

    def close(self) -> None:
        self._client.close()

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt ``attempt`` (1-based): exponential, capped, with
        jitter so that many clients failing together do not retry together."""
        ceiling = min(self._retry.max_backoff, self._retry.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._jitter() * ceiling / 2

    def send(
        self, request: HttpRequest, *, redact: Callable[[str], str] = lambda text: text
    ) -> httpx.Response:
        """Send ``request``, retrying what is worth retrying; raise a ``SourceError``."""
        max_attempts = self._retry.max_attempts
        content = None
        headers = dict(request.headers)
        if request.body is not None:
            content = orjson.dumps(request.body)
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        for attempt in range(1, max_attempts + 1):
            self.attempts += 1
            try:
                response = self._client.request(
                    request.method, request.url, headers=headers, content=content
                )
            except httpx.TransportError as exc:
                retryable = not isinstance(
                    exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError
                )
                if retryable and attempt < max_attempts:
                    self._sleep(self.backoff(attempt))
                    continue
                raise self._unreachable(request, exc, attempt, redact) from None
            except httpx.InvalidURL:
                message = f"{request.method} {request.display}: not a valid URL"
                raise SourceError(redact(message), hint="check source.url") from None
            except httpx.RequestError as exc:  # e.g. too many redirects
                message = f"{request.method} {request.display} failed: {_one_line(str(exc))}"
                raise SourceError(redact(message), hint="check source.url") from None
            if response.status_code in RETRY_STATUSES and attempt < max_attempts:
                self._sleep(self._retry_delay(request, response, attempt, redact))
                continue
            if response.status_code >= 400:
                raise self._http_error(request, response, attempt, redact)
            return response
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _retry_delay(
        self,
        request: HttpRequest,
        response: httpx.Response,
        attempt: int,
        redact: Callable[[str], str],
    ) -> float:
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header, self._clock.now()) if header else None
        if wait is None:
            return self.backoff(attempt)
        if wait > self._retry.max_wait:
            message = (
                f"{request.method} {request.display} returned HTTP {response.status_code} "
                f"and asked to wait {wait:g} s (Retry-After), more than "
                f"source.retry.max_wait = {self._retry.max_wait:g} s"
            )
            raise SourceHttpError(
                redact(message),
                hint="try again later, or raise source.retry.max_wait",
                status=response.status_code,
                url=redact(request.display),
                retry_after=wait,
            )
        # The server said when to come back: wait that long (a shorter wait would only
        # earn another 429), up to max_wait, beyond which the read fails above.
        return wait

    def _unreachable(
        self,
        request: HttpRequest,
        exc: httpx.TransportError,
        attempts: int,
        redact: Callable[[str], str],
    ) -> SourceError:
        reason = _transport_reason(exc, self._timeout)
        if isinstance(exc, httpx.UnsupportedProtocol):
            return SourceError(
                redact(f"cannot request {request.display}: {reason}"), hint="check source.url"
            )
        hint = "check source.url"
        if isinstance(exc, httpx.TimeoutException):
            hint = "check source.url, or raise source.timeout"
        return SourceUnreachable(
            redact(f"cannot reach {request.display}: {reason}"),
            hint=hint,
            url=redact(request.display),
            attempts=attempts,
        )

    def _http_error(
        self,
        request: HttpRequest,
        response: httpx.Response,
        attempts: int,
        redact: Callable[[str], str],
    ) -> SourceHttpError:
        status = response.status_code
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = response.reason_phrase
        message = f"{request.method} {request.display} returned HTTP {status} {phrase}".rstrip()
        if attempts > 1:
            message += f" after {attempts} attempts"
        snippet = _one_line(response.text, 120) if response.content else ""
        if snippet:
            message += f": {snippet}"
        return SourceHttpError(
            redact(message),
            hint=_status_hint(status),
            status=status,
            url=redact(request.display),
            attempts=attempts,
        )
