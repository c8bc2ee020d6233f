"""The host's HTTP for guests: only declared hosts, secrets substituted on the wire only.

A guest's request names ``secret://NAME`` where a value belongs (the URL, a header value).
The host checks the URL's host against the declared (and granted) patterns, substitutes the
declared secrets, sends the request with urllib3 and follows redirects itself, checking each
hop the same way: a redirect to another host never carries the secret-bearing headers. The
response is scrubbed before the guest sees it: every substituted value (raw, URL-encoded or
JSON-escaped) in the body, the headers or the final URL is turned back into its
``secret://NAME`` reference (``hakiri.core.secrets.SecretScrubber``, the http and github
sources' too), so an echoing server or a next link that repeats an API key hands the guest
a reference, never the value (values are not kept after the request). Proxies and the
wording of a transport failure are ``hakiri.connectors._http``'s, as for those sources.

One attempt per request: retrying is the guest's policy (it sees every HTTP status).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationValueError,
)

from hakiri.connectors._http.proxies import EnvironmentProxies
from hakiri.connectors._http.transport import transport_reason
from hakiri.core.errors import CapabilityDenied
from hakiri.core.ports import SecretResolver
from hakiri.core.secrets import SECRET_REF, SecretScrubber

if TYPE_CHECKING:
    from hakiri.connectors.wasm.manifest import HostPattern

__all__ = ["FetchDeadline", "FetchFailed", "FetchRequest", "FetchResponse", "HostFetcher"]

MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_USER_AGENT = "hakiri-wasm/0.1"


class FetchFailed(Exception):
    """A transport failure (refused, timed out, too large, too many redirects): the guest
    gets the message as its ``err`` and decides what to do."""


class FetchDeadline(FetchFailed):
    """The call's wall-clock deadline passed while the host was fetching."""


@dataclass(frozen=True, slots=True)
class FetchRequest:
    method: str
    url: str
    """As the guest wrote it: ``secret://`` references intact."""
    headers: list[tuple[str, str]]
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class FetchResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    """The URL that answered, after redirects (scrubbed)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


class HostFetcher:
    """Sends guests' requests for one source. Thread-safe (one urllib3 pool)."""

    def __init__(
        self,
        *,
        connector: str,
        hosts: Iterable[HostPattern],
        secrets: Iterable[str],
        resolver: SecretResolver,
        max_body_bytes: int,
    ) -> None:
        self._connector = connector
        self._hosts = list(hosts)
        self._secrets = frozenset(secrets)
        self._resolver = resolver
        self._max_body = max_body_bytes
        # A few connections: the executor reads ahead on a second thread.
        options: dict[str, Any] = {"retries": False, "maxsize": 4}
        self._pool = urllib3.PoolManager(**options)
        self._proxies = EnvironmentProxies(options)
        self._lock = threading.Lock()
        self.requests = 0
        """Requests sent so far (each redirect hop counts)."""

    def close(self) -> None:
        self._pool.clear()
        self._proxies.clear()

    # -- checks ----------------------------------------------------------------------------

    def _check_url(self, url: str, shown: str, *, redirect_from: str | None = None) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchFailed(f"cannot request {shown}: only http and https URLs")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchFailed(f"cannot request {shown}: the port is not valid") from None
        host = (parts.hostname or "").lower()
        if not host:
            raise FetchFailed(f"cannot request {shown}: the URL has no host")
        if any(pattern.matches(host, port) for pattern in self._hosts):
            return
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        declared = ", ".join(str(p) for p in self._hosts) or "none"
        how = f"was redirected from {redirect_from} to" if redirect_from else "requested"
        raise CapabilityDenied(
            f"capability denied: connector {self._connector!r} {how} {target}, which it "
            f"does not declare (declared hosts: {declared})",
            hint="if the connector should reach it, add it to the connector's manifest "
            "[capabilities].hosts and to the pipeline's grant.hosts",
            connector=self._connector,
            host=target,
        )

    def _substitute(self, text: str, used: dict[str, str]) -> str:
        if "secret://" not in text:
            return text

        def one(match: Any) -> str:
            name = str(match.group(1))
            if name not in self._secrets:
                raise CapabilityDenied(
                    f"capability denied: connector {self._connector!r} referenced "
                    f"secret://{name}, which it does not declare or the pipeline does not "
                    "grant",
                    hint="declare it in the manifest's [capabilities].secrets and add it to "
                    "the pipeline's grant.secrets if the connector should use it",
                    connector=self._connector,
                    secret=name,
                )
            value = self._resolver.resolve(name)
            used[value] = name
            return value

        return SECRET_REF.sub(one, text)

    # -- sending ---------------------------------------------------------------------------

    def fetch(self, request: FetchRequest, *, deadline: float) -> FetchResponse:
        """Send ``request`` (following redirects) before ``deadline`` (``time.monotonic``);
        ``CapabilityDenied`` for a host or secret outside the grant, ``SecretError`` for a
        secret that is not set, ``FetchDeadline`` past the deadline, ``FetchFailed`` for a
        transport failure."""
        method = request.method.upper()
        shown = request.url.split("?", 1)[0]
        used: dict[str, str] = {}
        url = self._substitute(request.url, used)
        self._check_url(url, shown)
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        secret_headers: set[str] = set()
        for name, value in request.headers:
            sent = self._substitute(value, used)
            if sent != value:
                secret_headers.add(name.lower())
            # The guest's header replaces a default of the same name, whatever its case.
            for default in [k for k in headers if k.lower() == name.lower()]:
                del headers[default]
            headers[name] = sent
        scrub = SecretScrubber(used)
        body = request.body
        for _hop in range(MAX_REDIRECTS + 1):
            raw = self._send(method, url, headers, body, deadline, shown, scrub)
            location = raw.headers.get("Location")
            if raw.status not in _REDIRECTS or not location:
                return self._response(raw, url, scrub, deadline)
            raw.drain_conn()
            raw.release_conn()
            target = urljoin(url, location)
            self._check_url(target, target.split("?", 1)[0], redirect_from=shown)
            if _origin(target) != _origin(url):
                # Credentials were meant for the origin the guest named, not for where a
                # server sends it next.
                headers = {
                    k: v
                    for k, v in headers.items()
                    if k.lower() not in secret_headers and k.lower() not in _CREDENTIAL_HEADERS
                }
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                body = None
            url = target
            shown = scrub.scrub_text(target.split("?", 1)[0])
        raise FetchFailed(
            f"{request.method} {request.url.split('?', 1)[0]}: more than {MAX_REDIRECTS} redirects"
        )

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        deadline: float,
        shown: str,
        scrub: SecretScrubber,
    ) -> urllib3.BaseHTTPResponse:
        timeout = _remaining(deadline, shown)
        scheme = urlsplit(url).scheme.lower()
        try:
            pool = self._proxies.manager(url, scheme) or self._pool
        except LocationValueError:
            raise FetchFailed(
                f"cannot request {shown}: the {scheme} proxy set in the environment is not "
                "a valid URL"
            ) from None
        with self._lock:
            self.requests += 1
        try:
            return pool.urlopen(
                method,
                url,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except LocationValueError:
            raise FetchFailed(f"cannot request {shown}: not a valid URL") from None
        except HTTPError as exc:
            if time.monotonic() >= deadline:
                raise FetchDeadline(f"{method} {shown}: the call's deadline passed") from None
            reason = transport_reason(exc, timeout)
            raise FetchFailed(scrub.scrub_text(f"{method} {shown}: {reason}")) from None
        except ValueError:  # http.client refuses a header with a line break
            raise FetchFailed(
                f"cannot request {shown}: a header name or value is not valid"
            ) from None

    def _response(
        self, raw: urllib3.BaseHTTPResponse, url: str, scrub: SecretScrubber, deadline: float
    ) -> FetchResponse:
        shown = scrub.scrub_text(url.split("?", 1)[0])
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in raw.stream(1 << 16):
                # A server dripping bytes resets the read timeout on every chunk; the
                # deadline is per call.
                _remaining(deadline, shown)
                size += len(chunk)
                if size > self._max_body:
                    raise FetchFailed(
                        f"the response of {shown} is larger than {self._max_body >> 20} MiB, "
                        "the connector's memory limit"
                    )
                chunks.append(chunk)
        except HTTPError as exc:
            if time.monotonic() >= deadline:
                raise FetchDeadline(f"reading {shown}: the call's deadline passed") from None
            reason = transport_reason(exc, 0)
            raise FetchFailed(scrub.scrub_text(f"reading {shown}: {reason}")) from None
        finally:
            raw.release_conn()
        headers = [(name, scrub.scrub_text(value)) for name, value in raw.headers.items()]
        body = scrub.scrub(b"".join(chunks))
        return FetchResponse(raw.status, headers, body, scrub.scrub_text(url))


def _remaining(deadline: float, shown: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchDeadline(f"{shown}: the call's deadline passed")
    return left
