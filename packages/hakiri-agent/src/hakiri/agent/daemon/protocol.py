"""uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn bounds the idle time between two requests of a keep-alive connection
(``timeout_keep_alive``) and the size of the headers (``h11_max_incomplete_event_size``),
but not the time a client takes to send them: a connection that never sends its first
request, or sends its headers a byte at a time, is held forever. Here a connection gets
``header_timeout`` seconds from the moment the daemon waits for a request's headers (it
opened, or the headers began after a keep-alive pause) until they are complete, then it is
closed. Bodies have their own deadline, in the guard (``body.py``).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderDeadlineProtocol", "with_header_timeout"]


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout: ClassVar[float] = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # IDLE after parsing: the headers of the next request are still incomplete (a
        # request whose headers arrived moves h11 on to its body or to DONE).
        if self.conn.their_state is h11.IDLE:
            if self._header_timer is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            # The keep-alive timer does the same; a response cannot be sent (no request).
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's ``http`` setting, with this header deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})
