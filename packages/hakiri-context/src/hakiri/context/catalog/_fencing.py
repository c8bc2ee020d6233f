"""Fencing: which commits a lease allows, decided the same way by every catalog adapter.

The catalog keeps, per lease key (pipeline, shard), the newest fencing token a commit has
carried. A commit is refused with ``LeaseLost`` when its token is older than that, when the
same token arrives from another holder, when its lease has expired by the catalog's clock,
or when it carries no lease although the pipeline has been committed under one: a worker
without a lease racing one with a lease is the hazard fencing exists to stop. See
docs/run-protocol.md ("Fencing").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hakiri.context.catalog._rules import to_utc
from hakiri.core.errors import CatalogError, LeaseLost
from hakiri.core.records import CommitRequest, Lease

__all__ = ["Fence", "check_lease"]


@dataclass(frozen=True, slots=True)
class Fence:
    """The newest token the catalog has seen for one lease key, and the lease it came with."""

    pipeline: str
    shard: str | None
    token: int
    holder: str
    expires_at: datetime

    @classmethod
    def of(cls, lease: Lease) -> Fence:
        return cls(lease.pipeline, lease.shard, lease.token, lease.holder, lease.expires_at)


def check_lease(
    request: CommitRequest,
    *,
    seen: Fence | None,
    newest: Fence | None,
    now: datetime,
) -> Fence | None:
    """The fence the commit records, or ``LeaseLost`` if its lease does not allow it.

    ``seen`` is the fence of the request's lease key; ``newest`` the newest fence of any
    key of the pipeline (what a commit without a lease runs into). ``now`` is the catalog's
    time. None: the commit has no lease and needs none.
    """
    lease = request.lease
    if lease is None:
        if newest is not None:
            raise _unleased(request.pipeline, newest)
        return None
    if lease.pipeline != request.pipeline:
        raise CatalogError(
            f"commit of pipeline {request.pipeline!r} carries a lease on pipeline "
            f"{lease.pipeline!r}: a lease fences only its own pipeline"
        )
    if seen is not None:
        if lease.token < seen.token:
            raise _stale(lease, seen)
        if lease.token == seen.token and lease.holder != seen.holder:
            raise _taken(lease, seen)
    if lease.expired(to_utc(now)):
        raise _expired(lease, now)
    return Fence.of(lease)


def _what(pipeline: str, shard: str | None) -> str:
    return f"pipeline {pipeline!r}" + (f" shard {shard!r}" if shard is not None else "")


_STOP = "another worker has taken the lease over; this worker must stop running the pipeline"


def _stale(lease: Lease, seen: Fence) -> LeaseLost:
    return LeaseLost(
        f"the lease on {_what(lease.pipeline, lease.shard)} is stale: this commit carries "
        f"fencing token {lease.token}, but the catalog has seen token {seen.token} (held by "
        f"{seen.holder!r}); nothing was written",
        hint=_STOP,
        pipeline=lease.pipeline,
        shard=lease.shard,
        token=lease.token,
        newest_token=seen.token,
    )


def _taken(lease: Lease, seen: Fence) -> LeaseLost:
    return LeaseLost(
        f"fencing token {lease.token} of {_what(lease.pipeline, lease.shard)} was committed "
        f"by {seen.holder!r}, not {lease.holder!r}: one token has one holder; nothing was "
        "written",
        hint=_STOP,
        pipeline=lease.pipeline,
        shard=lease.shard,
        token=lease.token,
        newest_token=seen.token,
    )


def _expired(lease: Lease, now: datetime) -> LeaseLost:
    return LeaseLost(
        f"the lease on {_what(lease.pipeline, lease.shard)} (fencing token {lease.token}, held "
        f"by {lease.holder!r}) expired at {to_utc(lease.expires_at).isoformat()}; the "
        f"catalog's clock says {to_utc(now).isoformat()}; nothing was written",
        hint="the lease may have been taken over by another worker; this worker must stop "
        "running the pipeline (renew a lease before it expires)",
        pipeline=lease.pipeline,
        shard=lease.shard,
        token=lease.token,
    )


def _unleased(pipeline: str, newest: Fence) -> LeaseLost:
    shard = f" of shard {newest.shard!r}" if newest.shard is not None else ""
    return LeaseLost(
        f"pipeline {pipeline!r} is committed under leases (the newest: fencing token "
        f"{newest.token}{shard}, held by {newest.holder!r}) and this commit carries none; "
        "nothing was written",
        hint="a worker holding the pipeline's lease runs it; this one must stop (run the "
        "pipeline through the workers that take its lease, not on its own)",
        pipeline=pipeline,
        shard=newest.shard,
        newest_token=newest.token,
    )
