"""coldstart's verdicts under load: the total alone, per module, stored vs interleaved (issue 17).

A throw-away git project: ``app.py`` imports json, pandas and ``helper``. Each
comparison runs while a CPU hog is started and stopped at random (as in
bench_check_noise.py):

* **unchanged**: the working tree equals HEAD; every significant verdict is false;
* **helper +100 ms**: ``helper.py`` computes for 100 ms of CPU at import.

Each comparison is made two ways: ``perfkit coldstart app --baseline base.json`` (a
result saved once at the start, under the same hog; 7 runs) and ``perfkit coldstart app
--against HEAD`` (12 interleaved pairs). Reported per way: how often the verdict on the
import **total alone** (``total_verdict``, what perfkit judged before) was significant,
and how often the full verdict (total **and** modules, Holm-corrected) was.

    python benchmarks/bench_coldstart_verdict.py --comparisons 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_check_noise import random_hog  # benchmarks/ is sys.path[0] when run as a script

PY = sys.executable
SLOW = "import time\n_t = time.process_time()\nwhile time.process_time() - _t < 0.1:\n    pass\n"


def project(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "bench@example.com")
    git("config", "user.name", "bench")
    # pandas: an import of several hundred ms whose noise under load hides 100 ms in the total
    (root / "app.py").write_text("import json\nimport pandas\nimport helper\n")
    (root / "helper.py").write_text("VALUE = 1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "base")


def coldstart(root: Path, *how: str) -> dict[str, object]:
    out = root / "r.json"
    proc = subprocess.run(
        [PY, "-m", "perfkit", "-q", "coldstart", "app", "--no-candidates", *how,
         "--format", "json", "--output", str(out)],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    data = json.loads(out.read_text())
    assert isinstance(data, dict)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comparisons", type=int, default=6)
    ap.add_argument("--spell", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    n = args.comparisons
    with tempfile.TemporaryDirectory(prefix="bench-csv-") as tmp:
        root = Path(tmp)
        project(root)
        base = root / "base.json"
        with random_hog(args.seed - 1, args.spell):
            coldstart(root, "--runs", "7")
            (root / "r.json").rename(base)
        print(f"load before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print("| scenario | comparisons | `--baseline`: total significant | `--baseline`: "
              "total or a module | helper's own verdict | `--against`: total significant "
              "| `--against`: total or a module | helper's own verdict |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i, (name, helper) in enumerate(
            (("unchanged", "VALUE = 1\n"), ("helper +100 ms", SLOW + "VALUE = 1\n"))
        ):
            (root / "helper.py").write_text(helper)
            counts = {k: 0 for k in ("bt", "bv", "bh", "at", "av", "ah")}
            with random_hog(args.seed + i, args.spell):
                for _ in range(n):
                    for key, how in (
                        ("b", ("--baseline", str(base))),
                        ("a", ("--against", "HEAD")),
                    ):
                        b = coldstart(root, *how)["baseline"]
                        assert isinstance(b, dict)
                        counts[key + "t"] += b["total_verdict"] in ("regression", "improvement")
                        counts[key + "v"] += b["verdict"] in ("regression", "improvement")
                        helper_v = {v["name"]: v["verdict"] for v in b["module_verdicts"]}
                        counts[key + "h"] += helper_v.get("helper") == "regression"
            print(
                f"| {name} | {n} | {counts['bt']}/{n} | {counts['bv']}/{n} | {counts['bh']}/{n} "
                f"| {counts['at']}/{n} | {counts['av']}/{n} | {counts['ah']}/{n} |"
            )
        print(f"\nload after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
