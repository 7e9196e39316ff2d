"""A seeded synthetic stderr log (the one behind the issue-18 analyze overhead figure in RESULTS.md).

python benchmarks/gen_stderr_log.py big.log 3000 && sort -o big.log big.log
"""

import datetime as dt
import random
import sys

rng = random.Random(7)
t0 = dt.datetime(2026, 1, 5, 9, 0, 0)
qs = [
    ("SELECT * FROM accounts WHERE id = {}", 2.0, 30),
    ("UPDATE accounts SET balance = balance + {} WHERE id = 7", 5.0, 10),
    ("SELECT name, price FROM products WHERE category = '{}' ORDER BY price", 12.0, 8),
    ("INSERT INTO history (aid, delta) VALUES ({}, 5)", 1.0, 12),
    ("SELECT count(*) FROM orders WHERE created > now() - interval '{} days'", 80.0, 2),
    ("SELECT * FROM users WHERE email = 'u{}@example.com'", 0.8, 20),
    ("DELETE FROM sessions WHERE expires < {}", 30.0, 1),
    (
        "SELECT o.id, sum(l.qty) FROM orders o JOIN lines l ON l.oid = o.id WHERE o.customer = {} GROUP BY o.id",
        40.0,
        3,
    ),
    ("SELECT pg_sleep(0.{})", 600.0, 0.05),
]
minutes = int(sys.argv[2]) if len(sys.argv) > 2 else 120
with open(sys.argv[1], "w") as out:
    for m in range(minutes):
        burst = 3.0 if 40 <= m < 55 else 1.0
        for qi, (q, ms, rate) in enumerate(qs):
            n = int(rng.expovariate(1 / (rate * (burst if qi in (4, 7) else 1.0)))) + (
                1 if rate >= 1 else 0
            )
            for _ in range(n):
                t = t0 + dt.timedelta(minutes=m, seconds=rng.random() * 60)
                d = rng.lognormvariate(0, 0.6) * ms * (burst if qi in (4, 7) else 1)
                out.write(
                    f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC [{1000 + qi}] app@shop LOG:  duration: {d:.3f} ms  statement: {q.format(rng.randint(1, 999))}\n"
                )
