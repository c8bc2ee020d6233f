"""HTTP requests with retries: backoff with jitter, ``Retry-After``, one-line errors.

Retried: 429, 500, 502, 503, 504, connection errors and timeouts. Everything else fails at
once. With ``RetryConfig.rate_limit`` the client also waits out a rate limit (a 403/429
saying no request is left, or a success saying the last one was used) until its reset.
Messages name the URL as configured (secret references, never their values) and pass
through the caller's ``redact`` as a last line of defence.

urllib3 sends (keep-alive, gzip/deflate decoding) and follows redirects; every other retry
is this module's, so that backoff, ``Retry-After`` and the attempt count are one policy.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import urllib3
from urllib3.exceptions import (
    DecodeError,
    HTTPError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ResponseError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from hakiri.connectors._http.proxies import EnvironmentProxies
from hakiri.connectors._http.retry import RetryConfig
from hakiri.connectors._http.transport import one_line, transport_reason
from hakiri.core.errors import SourceError, SourceHttpError, SourceUnreachable
from hakiri.core.ports import Clock

__all__ = [
    "RETRY_STATUSES",
    "HttpRequest",
    "HttpResponse",
    "RetryingClient",
    "parse_retry_after",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RATE_LIMIT_WAITS = 10
"""Rate-limited answers to one request that are waited out; a server still refusing after
that many waits, each as long as it asked, is not going to let the request through."""
_USER_AGENT = "hakiri-http/0.1"
_DEFAULT_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": _USER_AGENT,
}
_MAX_REDIRECTS = 20
_RETRIES = urllib3.Retry(
    # urllib3 only follows redirects; retries are ours (below), so every failure surfaces
    # at once: connect/read errors raised as they are, others wrapped in MaxRetryError.
    total=None,
    connect=False,
    read=False,
    other=0,
    status=0,
    redirect=_MAX_REDIRECTS,
    respect_retry_after_header=False,
)


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


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response read in full, its body decoded (gzip, deflate)."""

    status: int
    headers: Mapping[str, str]
    """Case-insensitive; repeated headers joined with ", "."""
    url: str
    """The URL that answered: the request's, or after redirects the last one's."""
    content: bytes
    reason: str = ""
    """The status line's reason phrase, as the server sent it."""

    @property
    def text(self) -> str:
        """``content`` as UTF-8, undecodable bytes replaced."""
        return self.content.decode("utf-8", errors="replace")


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


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, Urllib3Timeout) and not isinstance(exc, NewConnectionError)


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


def _scheme(url: str) -> str:
    if url.startswith("https://"):
        return "https"
    if url.startswith("http://"):
        return "http"
    return urlsplit(url).scheme.lower()


def _final_url(raw: urllib3.BaseHTTPResponse, url: str) -> str:
    """The URL that answered. urllib3's own ``response.url`` is only the request target
    (``/path?query``), so the last redirect is taken from the retry history instead."""
    history = raw.retries.history if raw.retries is not None else ()
    for step in reversed(history):
        if step.redirect_location:
            return urljoin(step.url or url, step.redirect_location)
    return url


class RetryingClient:
    """One urllib3 ``PoolManager`` (keep-alive connections) plus the retry policy;
    ``close()`` closes the connections."""

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
        self._pool_options: dict[str, Any] = {
            "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            "retries": _RETRIES,
        }
        self._pool = urllib3.PoolManager(**self._pool_options)
        self._proxies = EnvironmentProxies(self._pool_options)
        self.attempts = 0
        """Requests sent so far, retries included."""
        self._resume_at: float | None = None
        """When the rate limit resets (Unix time), after a response said it was used up:
        the next request waits for it (only with ``retry.rate_limit``)."""

    def close(self) -> None:
        self._pool.clear()
        self._proxies.clear()

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt ``attempt`` (1-based): exponential, capped, with
        jitter so that many clients failing together do not retry together."""
        ceiling = min(self._retry.max_backoff, self._retry.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._jitter() * ceiling / 2

    def send(
        self, request: HttpRequest, *, redact: Callable[[str], str] = lambda text: text
    ) -> HttpResponse:
        """Send ``request``, retrying what is worth retrying; raise a ``SourceError``."""
        pool = self._pool_for(request, redact)
        headers = urllib3.HTTPHeaderDict(_DEFAULT_HEADERS)
        headers.update(request.headers)  # case-insensitive: the config's win
        body = None
        if request.body is not None:
            body = orjson.dumps(request.body)
            if "Content-Type" not in headers:
                headers["Content-Type"] = "application/json"
        max_attempts = self._retry.max_attempts
        attempt = 0
        limited = 0  # rate-limited answers to this request so far
        while True:
            self._await_quota(request, redact)
            attempt += 1
            response = self._attempt(pool, request, headers, body, attempt, redact)
            if response is None:
                continue  # a transport error, slept on; _attempt raises on the last attempt
            wait = self._rate_limit_wait(request, response, limited, redact)
            if wait is not None:
                # Not a failure: the server said when to come back, and coming back then
                # succeeds. So it does not use up an attempt.
                limited += 1
                attempt -= 1
                self._sleep(wait)
                continue
            if response.status in RETRY_STATUSES and attempt < max_attempts:
                self._sleep(self._retry_delay(request, response, attempt, redact))
                continue
            if response.status >= 400:
                raise self._http_error(request, response, attempt, redact)
            self._note_quota(response)
            return response

    def _attempt(
        self,
        pool: urllib3.PoolManager,
        request: HttpRequest,
        headers: urllib3.HTTPHeaderDict,
        body: bytes | None,
        attempt: int,
        redact: Callable[[str], str],
    ) -> HttpResponse | None:
        """One request on the wire: its response, or None after sleeping on a transport
        error worth retrying."""
        self.attempts += 1
        try:
            raw = pool.urlopen(
                request.method, request.url, body=body, headers=headers, preload_content=True
            )
        except LocationValueError:
            message = f"{request.method} {request.display}: not a valid URL"
            raise SourceError(redact(message), hint="check source.url") from None
        except HTTPError as exc:
            failure: Exception = exc
            if isinstance(exc, MaxRetryError) and exc.reason is not None:
                failure = exc.reason
            if isinstance(failure, ResponseError | DecodeError):
                raise self._request_error(request, failure, redact) from None
            if attempt < self._retry.max_attempts:
                self._sleep(self.backoff(attempt))
                return None
            raise self._unreachable(request, failure, attempt, redact) from None
        except ValueError as exc:  # http.client refuses a header with a line break
            raise self._invalid_request(request, exc, redact) from None
        return HttpResponse(
            raw.status, raw.headers, _final_url(raw, request.url), raw.data, raw.reason or ""
        )

    # -- rate limits ---------------------------------------------------------------------------

    def _until_reset(self, response: HttpResponse, now: datetime) -> float | None:
        """Seconds until the rate limit's window resets, if the response says when."""
        limit = self._retry.rate_limit
        assert limit is not None
        header = response.headers.get(limit.reset_header)
        try:
            value = float(header.strip()) if header else math.nan
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        if limit.reset_format == "epoch_seconds":
            value -= now.timestamp()
        return max(0.0, value)

    def _note_quota(self, response: HttpResponse) -> None:
        """A successful response that says no request is left: the next one waits."""
        limit = self._retry.rate_limit
        if limit is None:
            return
        remaining = response.headers.get(limit.remaining_header)
        if remaining is None or remaining.strip() != "0":
            return
        now = self._clock.now()
        until = self._until_reset(response, now)
        if until is not None:
            self._resume_at = now.timestamp() + until

    def _await_quota(self, request: HttpRequest, redact: Callable[[str], str]) -> None:
        """Sleep until the reset a previous response announced, if it is still ahead."""
        resume_at, self._resume_at = self._resume_at, None
        if resume_at is None:
            return
        limit = self._retry.rate_limit
        assert limit is not None
        now = self._clock.now()
        until = resume_at - now.timestamp()
        if until + limit.margin <= 0:
            return
        if until > limit.max_wait:
            said = f"{limit.remaining_header}: 0"
            reason = f"the rate limit is used up (the last response said {said})"
            raise self._limit_error(request, reason, until, now, None, redact)
        self._sleep(until + limit.margin)

    def _rate_limit_wait(
        self,
        request: HttpRequest,
        response: HttpResponse,
        limited: int,
        redact: Callable[[str], str],
    ) -> float | None:
        """How long to wait before sending ``request`` again, when ``response`` says the
        rate limit refused it; None when it is not a rate limit (or says not when to retry)."""
        limit = self._retry.rate_limit
        if limit is None or response.status not in limit.statuses:
            return None
        remaining = response.headers.get(limit.remaining_header)
        exhausted = remaining is not None and remaining.strip() == "0"
        retry_after = response.headers.get("Retry-After")
        if not exhausted and not retry_after:
            return None  # a plain 403 (no access) or 429 without advice: not ours
        now = self._clock.now()
        # Retry-After, when given, is the server's own advice (GitHub's secondary limits);
        # a reset time is whole seconds on the server's clock, hence the margin.
        until = parse_retry_after(retry_after, now) if retry_after else None
        if until is not None:
            wait = max(until, limit.margin)
        else:
            until = self._until_reset(response, now)
            if until is None:
                return None
            wait = until + limit.margin
        reason = f"hit the rate limit (HTTP {response.status}"
        reason += f", {limit.remaining_header}: 0)" if exhausted else ", Retry-After)"
        if limited >= _MAX_RATE_LIMIT_WAITS:
            raise self._limit_error(request, reason, None, now, response.status, redact)
        if until > limit.max_wait:
            raise self._limit_error(request, reason, until, now, response.status, redact)
        return wait

    def _limit_error(
        self,
        request: HttpRequest,
        reason: str,
        until: float | None,
        now: datetime,
        status: int | None,
        redact: Callable[[str], str],
    ) -> SourceHttpError:
        """The read fails: the limit resets ``until`` seconds from ``now``, further than the
        policy may wait (None: the server kept refusing after every wait)."""
        limit = self._retry.rate_limit
        assert limit is not None
        message = f"{request.method} {request.display}: {reason}"
        if until is None:
            message += f"; still refused after waiting {_MAX_RATE_LIMIT_WAITS} times as told"
            return SourceHttpError(
                redact(message),
                hint="the API keeps refusing; try again later",
                status=status,
                url=redact(request.display),
                rate_limited=True,
            )
        # Reset headers are whole seconds: round, so float noise cannot show 12:00:35.999
        # as 12:00:35.
        when = datetime.fromtimestamp(round(now.timestamp() + until), UTC)
        resets = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        message += (
            f"; it resets at {resets}, in {math.ceil(until)} s, more than the "
            f"{limit.max_wait:g} s the client may wait"
        )
        return SourceHttpError(
            redact(message),
            hint="try again after the reset, or raise source.retry.rate_limit.max_wait",
            status=status,
            url=redact(request.display),
            retry_after=until,
            reset_at=resets,
            rate_limited=True,
        )

    def _pool_for(self, request: HttpRequest, redact: Callable[[str], str]) -> urllib3.PoolManager:
        scheme = _scheme(request.url)
        if scheme not in ("http", "https"):
            reason = f"unsupported URL scheme {scheme!r}" if scheme else "the URL has no scheme"
            raise SourceError(
                redact(f"cannot request {request.display}: {reason} (http or https)"),
                hint="check source.url",
            )
        try:
            proxy = self._proxies.manager(request.url, scheme)
        except LocationValueError:  # the proxy's URL; not shown, it may hold a password
            raise SourceError(
                f"cannot request {redact(request.display)}: the {scheme} proxy set in "
                "the environment is not a valid URL",
                hint=f"check {scheme.upper()}_PROXY (or ALL_PROXY)",
            ) from None
        return self._pool if proxy is None else proxy

    def _retry_delay(
        self,
        request: HttpRequest,
        response: HttpResponse,
        attempt: int,
        redact: Callable[[str], str],
    ) -> float:
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header, self._clock.now()) if header else None
        if wait is None:
            return self.backoff(attempt)
        if wait > self._retry.max_wait:
            message = (
                f"{request.method} {request.display} returned HTTP {response.status} "
                f"and asked to wait {wait:g} s (Retry-After), more than "
                f"source.retry.max_wait = {self._retry.max_wait:g} s"
            )
            raise SourceHttpError(
                redact(message),
                hint="try again later, or raise source.retry.max_wait",
                status=response.status,
                url=redact(request.display),
                retry_after=wait,
            )
        # The server said when to come back: wait that long (a shorter wait would only
        # earn another 429), up to max_wait, beyond which the read fails above.
        return wait

    def _unreachable(
        self,
        request: HttpRequest,
        exc: Exception,
        attempts: int,
        redact: Callable[[str], str],
    ) -> SourceError:
        reason = transport_reason(exc, self._timeout)
        hint = "check source.url"
        if _is_timeout(exc):
            hint = "check source.url, or raise source.timeout"
        return SourceUnreachable(
            redact(f"cannot reach {request.display}: {reason}"),
            hint=hint,
            url=redact(request.display),
            attempts=attempts,
        )

    def _request_error(
        self, request: HttpRequest, exc: Exception, redact: Callable[[str], str]
    ) -> SourceError:
        """A failure retrying cannot fix: a redirect loop, a body that does not decode."""
        if isinstance(exc, DecodeError):
            reason = "the response body does not match its Content-Encoding"
            hint = "check source.url: the server sent a corrupt compressed body"
        else:
            reason = f"more than {_MAX_REDIRECTS} redirects"
            hint = "check source.url"
        message = f"{request.method} {request.display} failed: {reason}"
        return SourceError(redact(message), hint=hint)

    def _invalid_request(
        self, request: HttpRequest, exc: ValueError, redact: Callable[[str], str]
    ) -> SourceError:
        # The exception's text may quote a header value, secret included: not shown.
        if "header" in str(exc).lower():
            return SourceError(
                redact(
                    f"cannot request {request.display}: a header name or value is not valid "
                    "(a line break or control character?)"
                ),
                hint="check source.headers and the secrets they reference",
            )
        return SourceError(
            redact(f"cannot request {request.display}: the request is not valid"),
            hint="check source.url, source.params and source.headers",
        )

    def _http_error(
        self,
        request: HttpRequest,
        response: HttpResponse,
        attempts: int,
        redact: Callable[[str], str],
    ) -> SourceHttpError:
        status = response.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = response.reason
        message = f"{request.method} {request.display} returned HTTP {status} {phrase}".rstrip()
        if attempts > 1:
            message += f" after {attempts} attempts"
        snippet = one_line(response.text, 120) if response.content else ""
        if snippet:
            message += f": {snippet}"
        return SourceHttpError(
            redact(message),
            hint=_status_hint(status),
            status=status,
            url=redact(request.display),
            attempts=attempts,
        )
