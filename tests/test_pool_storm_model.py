"""The connection-storm model: slot arithmetic, the levels it plans, refusal messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfkit.errors import UsageError
from perfkit.pool.storm import StormOptions, classify
from perfkit.pool.storm_model import (
    ServerSlots,
    exhausts,
    predict,
    safe_concurrency,
    saturation_point,
    storm_levels,
)


def _slots(
    max_connections: int = 100,
    superuser_reserved: int = 3,
    reserved: int = 0,
    in_use: int = 1,
    superuser: bool = False,
    reserved_role: bool = False,
) -> ServerSlots:
    return ServerSlots(
        max_connections, superuser_reserved, reserved, in_use, superuser, reserved_role
    )


def test_usable_slots_follow_the_reserved_rules() -> None:
    assert _slots().usable == 96  # 100 - 3 superuser-reserved - the monitor
    assert _slots(superuser=True).usable == 99  # a superuser may take the reserved ones
    assert _slots(reserved=5).usable == 91  # 16+: reserved_connections too
    assert _slots(reserved=5, reserved_role=True).usable == 96  # pg_use_reserved_connections
    assert _slots(in_use=200).usable == 0
    assert _slots().refusal == "remaining connection slots are reserved"
    assert _slots(superuser=True).refusal == "too many clients"
    assert _slots(superuser_reserved=0).refusal == "too many clients"


def test_safe_concurrency_for_the_lambda_heuristic() -> None:
    # 1024 MB Lambdas: 8 connections each; 96 usable slots carry 12 instances
    slots = _slots()
    assert safe_concurrency(slots, 8) == 12
    assert saturation_point(slots, 8) == 13
    assert predict(slots, 8, 12).refused == 0
    assert predict(slots, 8, 13).refused == 8  # 104 wanted, 96 fit
    with pytest.raises(ValueError):
        safe_concurrency(slots, 0)


def test_levels_ramp_past_the_saturation_point() -> None:
    slots = _slots(max_connections=20, in_use=1)  # 16 usable
    assert storm_levels(slots, 2, 500, may_exhaust=True) == (1, 2, 4, 8, 9, 12, 16)
    # without leave to exhaust, the storm keeps a slot for everyone else
    assert storm_levels(slots, 2, 500, may_exhaust=False) == (1, 2, 4, 7)
    assert storm_levels(slots, 2, 10, may_exhaust=True) == (1, 2, 4, 5)  # --max-clients 10


@given(
    max_connections=st.integers(1, 500),
    superuser_reserved=st.integers(0, 10),
    reserved=st.integers(0, 10),
    in_use=st.integers(0, 600),
    superuser=st.booleans(),
    reserved_role=st.booleans(),
    per=st.integers(1, 10),
    instances=st.integers(1, 300),
)
def test_model_invariants(
    max_connections: int,
    superuser_reserved: int,
    reserved: int,
    in_use: int,
    superuser: bool,
    reserved_role: bool,
    per: int,
    instances: int,
) -> None:
    slots = ServerSlots(
        max_connections, superuser_reserved, reserved, in_use, superuser, reserved_role
    )
    assert 0 <= slots.usable <= max_connections
    p = predict(slots, per, instances)
    assert p.accepted + p.refused == p.wanted == per * instances
    assert p.accepted <= slots.usable
    safe = safe_concurrency(slots, per)
    # no refusal at or below the safe concurrency, refusals from one more instance
    assert (p.refused == 0) == (instances <= safe)
    assert predict(slots, per, safe + 1).refused > 0
    if safe:
        assert predict(slots, per, safe).refused == 0
    assert exhausts(slots, p.wanted) == (p.wanted >= slots.usable)


@given(
    usable=st.integers(0, 400),
    per=st.integers(1, 10),
    max_clients=st.integers(1, 1000),
    may_exhaust=st.booleans(),
)
def test_levels_stay_bounded(usable: int, per: int, max_clients: int, may_exhaust: bool) -> None:
    slots = _slots(max_connections=usable + 4, superuser_reserved=3, in_use=1)
    assert slots.usable == usable
    levels = storm_levels(slots, per, max_clients, may_exhaust=may_exhaust)
    assert list(levels) == sorted(set(levels))
    assert all(n >= 1 and n * per <= max_clients for n in levels)
    if not may_exhaust:
        assert not any(exhausts(slots, n * per) for n in levels)
    sat = saturation_point(slots, per)
    if may_exhaust and sat * per <= max_clients:
        assert sat in levels  # the storm measures the first refused concurrency


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("FATAL:  sorry, too many clients already", "too_many"),
        (
            "FATAL:  remaining connection slots are reserved for non-replication superuser "
            "connections",
            "reserved",
        ),  # 13 to 15
        (
            "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute",
            "reserved",
        ),
        (
            'FATAL:  remaining connection slots are reserved for roles with privileges of the "pg_use_reserved_connections" role',
            "reserved",
        ),
        ('FATAL:  too many connections for role "app"', "too_many"),
        ("ERROR:  no more connections allowed (max_client_conn)", "pooler"),
        ("connection timeout expired", "error"),
        ('FATAL:  password authentication failed for user "app"', "error"),
    ],
)
def test_refusals_are_told_apart(message: str, outcome: str) -> None:
    assert classify(message) == outcome


def test_instance_pool_uses_create_pools_sizing() -> None:
    pool = StormOptions(memory_mb=1024).instance_pool()
    assert (pool.min_size, pool.max_size) == (8, 8)
    assert "1024 MB" in pool.reason
    assert StormOptions(memory_mb=4096).instance_pool().max_size == 10  # at most 10
    assert StormOptions().instance_pool().max_size == 10  # create_pool's default
    pool = StormOptions(memory_mb=1024, pool_max=3, pool_min=1).instance_pool()
    assert (pool.min_size, pool.max_size) == (1, 3)
    with pytest.raises(UsageError, match="--pool-min"):
        StormOptions(pool_max=2, pool_min=3).instance_pool()


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        (StormOptions(levels=(0,)), "--clients"),
        (StormOptions(levels=()), "--clients"),
        (StormOptions(max_clients=0), "--max-clients"),
        (StormOptions(hold_s=-1), "--duration"),
        (StormOptions(memory_mb=64), "--lambda-memory-mb"),
        (StormOptions(pool_max=0), "--pool-size"),
        (StormOptions(pool_min=0), "--pool-min"),
        (StormOptions(connect_timeout=0), "--connect-timeout"),
    ],
)
def test_bad_options_name_the_option(options: StormOptions, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        options.validate()
