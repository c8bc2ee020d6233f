"""The retry policy's options: what ``RetryingClient`` retries, how long it waits, and
whether it waits out a rate limit. The http source's ``retry`` option is a ``RetryConfig``;
the github source builds one of its own (``retry_config``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RateLimitConfig", "RetryConfig"]

_FORBID = ConfigDict(extra="forbid")


class RateLimitConfig(BaseModel):
    """Wait out an API's rate limit instead of failing (GitHub's ``x-ratelimit-*`` headers).

    A response whose status is in ``statuses`` and that says no request is left
    (``remaining_header: 0``) or carries ``Retry-After`` is not a failure: the client waits
    until the limit resets (plus ``margin``) and sends the request again, without using up
    ``max_attempts``. A successful response that says no request is left makes the client
    wait for the reset before its next request.
    """

    model_config = _FORBID
    remaining_header: str = Field(
        default="x-ratelimit-remaining",
        description="Response header holding the number of requests left in the window.",
    )
    reset_header: str = Field(
        default="x-ratelimit-reset",
        description="Response header saying when the window resets (see reset_format).",
    )
    reset_format: Literal["epoch_seconds", "delta_seconds"] = Field(
        default="epoch_seconds",
        description="'epoch_seconds': the reset header is a Unix time (GitHub); "
        "'delta_seconds': it is the number of seconds until the reset.",
    )
    statuses: list[int] = Field(
        default_factory=lambda: [403, 429],
        description="Statuses that mean 'rate limited' when the headers say so.",
    )
    max_wait: float = Field(
        default=900.0,
        ge=0,
        description="A reset further away than this many seconds fails the read instead, "
        "with a message saying when the limit resets.",
    )
    margin: float = Field(
        default=1.0,
        gt=0,
        description="Seconds added to every wait: the reset time is whole seconds on the "
        "server's clock, not ours.",
    )


class RetryConfig(BaseModel):
    """Retries of 429, 500, 502, 503, 504 and of connection errors and timeouts."""

    model_config = _FORBID
    max_attempts: int = Field(
        default=5, ge=1, description="Attempts per request, the first included."
    )
    backoff: float = Field(
        default=0.5, ge=0, description="Base delay in seconds; doubles per attempt, with jitter."
    )
    max_backoff: float = Field(
        default=30.0,
        ge=0,
        description="Longest backoff between two attempts, in seconds (a server's "
        "Retry-After is honoured up to max_wait instead).",
    )
    max_wait: float = Field(
        default=300.0,
        ge=0,
        description="A Retry-After longer than this many seconds fails the read instead.",
    )
    rate_limit: RateLimitConfig | None = Field(
        default=None,
        description="Wait for a rate limit's reset instead of failing; off by default "
        "(`rate_limit = {}` turns it on with GitHub's headers).",
    )
