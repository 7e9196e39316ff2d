"""A seeded synthetic PostgreSQL stderr log for the HTML report tests (deterministic)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

T0 = dt.datetime(2026, 1, 5, 9, 0, 0)

# (statement template, typical ms, statements per minute); 4 and 7 burst at minutes 40-54
QUERIES = (
    ("SELECT * FROM accounts WHERE id = {}", 2.0, 30),
    ("UPDATE accounts SET balance = balance + {} WHERE id = 7", 5.0, 10),
    ("SELECT name, price FROM products WHERE category = 'c{}' ORDER BY price", 12.0, 8),
    ("INSERT INTO history (aid, delta) VALUES ({}, 5)", 1.0, 12),
    ("SELECT count(*) FROM orders WHERE created > now() - interval '{} days'", 80.0, 2),
    ("SELECT * FROM users WHERE email = 'u{}@example.com'", 0.8, 20),
    ("DELETE FROM sessions WHERE expires < {}", 30.0, 1),
    (
        "SELECT o.id, sum(l.qty) FROM orders o JOIN lines l ON l.oid = o.id "
        "WHERE o.customer = {} GROUP BY o.id",
        40.0,
        3,
    ),
    ("SELECT pg_sleep(0.{})", 600.0, 0.2),
)
BURST = range(40, 55)


def write_log(path: Path, minutes: int = 120, seed: int = 7) -> Path:
    """``minutes`` of statements, in time order, from 09:00 on 2026-01-05."""
    rng = random.Random(seed)
    lines = []
    for m in range(minutes):
        for qi, (q, ms, rate) in enumerate(QUERIES):
            burst = 3.0 if m in BURST and qi in (4, 7) else 1.0
            n = int(rng.expovariate(1 / (rate * burst))) + (1 if rate >= 1 else 0)
            for _ in range(n):
                t = T0 + dt.timedelta(minutes=m, seconds=rng.random() * 60)
                d = rng.lognormvariate(0, 0.6) * ms * burst
                stmt = q.format(rng.randint(1, 999))
                lines.append(
                    (
                        t,
                        f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC [{1000 + qi}] "
                        f"app@shop LOG:  duration: {d:.3f} ms  statement: {stmt}\n",
                    )
                )
    lines.sort(key=lambda x: x[0])
    path.write_text("".join(text for _, text in lines))
    return path
