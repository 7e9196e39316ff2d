"""The demo's application workload: the statements a CRM backend would send.

Statements go through psycopg's extended protocol (server-side parameters), so the
server log shows ``execute <unnamed>: ... $1`` lines with their parameter values, as a
real application's log does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg


@dataclass(frozen=True)
class DemoSize:
    users: int = 50
    accounts: int = 2_000
    leads: int = 100_000
    activities: int = 200_000


def create_schema(conn: psycopg.Connection[Any], size: DemoSize) -> None:
    """Create the CRM tables and fill them (the caller's connection must be writable)."""
    text = resources.files("perfkit.demo").joinpath("schema.sql").read_text(encoding="utf-8")
    params = {
        "users": size.users,
        "accounts": size.accounts,
        "leads": size.leads,
        "activities": size.activities,
    }
    # The {name} placeholders are integer sizes we control, never user input.
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(int(value)))
    conn.execute(text.encode())


Step = Callable[[psycopg.Connection[Any], random.Random], None]


def _lead_by_email(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    g = rnd.randint(1, size.leads)
    domain = ("acme.io", "globex.com", "initech.net", "umbrella.org")[g % 4]
    conn.execute(
        "SELECT id, full_name, status, score FROM leads WHERE email = %s",
        (f"lead{g}@{domain}",),
    ).fetchall()


def _owner_pipeline(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "SELECT id, full_name, score, created_at FROM leads "
        "WHERE owner_id = %s AND status = %s ORDER BY created_at DESC LIMIT 20",
        (rnd.randint(1, size.users), rnd.choice(("new", "contacted", "qualified"))),
    ).fetchall()


def _lead_timeline(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "SELECT kind, note, happened_at FROM activities "
        "WHERE lead_id = %s ORDER BY happened_at DESC LIMIT 10",
        (rnd.randint(1, size.leads),),
    ).fetchall()


def _account_summary(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "SELECT status, count(*) FROM leads WHERE account_id = %s GROUP BY status",
        (rnd.randint(1, min(size.accounts, 40)),),
    ).fetchall()


def _dashboard(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "SELECT u.team, count(*) AS new_leads FROM leads l JOIN users u ON u.id = l.owner_id "
        "WHERE l.status = 'new' GROUP BY u.team ORDER BY u.team"
    ).fetchall()


def _user_profile(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "SELECT id, name, team FROM users WHERE id = %s", (rnd.randint(1, min(size.users, 10)),)
    ).fetchall()


def _bump_score(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "UPDATE leads SET score = score + %s, updated_at = now() WHERE id = %s",
        (rnd.randint(1, 5), rnd.randint(1, size.leads)),
    )


def _log_activity(conn: psycopg.Connection[Any], rnd: random.Random, size: DemoSize) -> None:
    conn.execute(
        "INSERT INTO activities (lead_id, user_id, kind, note, happened_at) "
        "VALUES (%s, %s, %s, %s, now())",
        (rnd.randint(1, size.leads), rnd.randint(1, size.users), "call", None),
    )


# (weight, step): reads dominate, as in most CRUD backends
MIX: tuple[tuple[int, Callable[[psycopg.Connection[Any], random.Random, DemoSize], None]], ...] = (
    (14, _lead_by_email),
    (18, _owner_pipeline),
    (18, _lead_timeline),
    (10, _account_summary),
    (12, _dashboard),
    (20, _user_profile),
    (5, _bump_score),
    (3, _log_activity),
)


def run_workload(
    conn: psycopg.Connection[Any],
    size: DemoSize,
    statements: int,
    *,
    seed: int = 42,
    on_step: Callable[[], None] | None = None,
) -> int:
    """Run ``statements`` steps of the mix on ``conn`` (autocommit); returns the count run."""
    rnd = random.Random(seed)
    weights = [w for w, _ in MIX]
    steps = [s for _, s in MIX]
    for step in rnd.choices(steps, weights=weights, k=statements):
        step(conn, rnd, size)
        if on_step is not None:
            on_step()
    return statements
