"""``--plot``: throughput and p95 per setting (PNG or SVG, by the file's extension)."""

from __future__ import annotations

import io
from pathlib import Path

from perfkit.batch.config import RunResult
from perfkit.errors import UsageError
from perfkit.report.output import write_atomic


def plot_sweep(runs: list[RunResult], best: int | None, path: Path) -> None:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise UsageError("--plot", f"{path}: use a .png or .svg file name")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = sorted({r.settings.batch_size for r in runs})
    for bs in sizes:
        pts = sorted((r.settings.concurrency, r) for r in runs if r.settings.batch_size == bs)
        xs = [c for c, _ in pts]
        ax1.plot(xs, [r.throughput for _, r in pts], marker="o", label=f"batch {bs}")
        ax2.plot(
            xs, [(r.latency_p95 or 0.0) * 1000 for _, r in pts], marker="o", label=f"batch {bs}"
        )
    if best is not None:
        b = runs[best]
        ax1.scatter(
            [b.settings.concurrency], [b.throughput], s=160, facecolors="none", edgecolors="red"
        )
    ax1.set_xlabel("concurrency")
    ax1.set_ylabel("messages/s")
    ax1.set_title("throughput")
    ax2.set_xlabel("concurrency")
    ax2.set_ylabel("p95 end-to-end latency (ms)")
    ax2.set_title("p95 latency")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    write_atomic(path, buf.getvalue())
