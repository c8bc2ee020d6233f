"""The Lease value a commit carries: checked when made, round-trips through JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hakiri.core.errors import HakiriError, LeaseLost
from hakiri.core.records import Lease

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_lease_round_trips_through_json() -> None:
    tokyo = timezone(timedelta(hours=9))
    lease = Lease("orders", "worker-1", 42, T.astimezone(tokyo), shard="eu")
    again = Lease.from_dict(json.loads(json.dumps(lease.to_dict())))
    assert again == lease and again.key == ("orders", "eu")
    whole = Lease("orders", "worker-1", 1, T)
    assert Lease.from_dict(whole.to_dict()).shard is None


def test_a_lease_expires_at_its_time() -> None:
    lease = Lease("orders", "w", 1, T)
    assert not lease.expired(T - timedelta(microseconds=1))
    assert lease.expired(T) and lease.expired(T + timedelta(seconds=1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token": -1},
        {"token": 2**63},
        {"token": True},
        {"token": 1.0},
        {"expires_at": datetime(2026, 3, 1)},
        {"shard": ""},
        {"holder": ""},
        {"pipeline": ""},
    ],
)
def test_a_lease_refuses_values_no_catalog_could_fence_with(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"pipeline": "p", "holder": "w", "token": 1, "expires_at": T}
    with pytest.raises(ValueError):
        Lease(**{**fields, **kwargs})  # type: ignore[arg-type]


def test_lease_lost_is_an_error_with_a_stable_code() -> None:
    error = LeaseLost("stale", hint="stop")
    assert isinstance(error, HakiriError) and error.code == "lease_lost"
    assert error.one_line() == "stale — stop"
