"""What a person sees: progress lines, where notes go, errors in the user's words."""

from __future__ import annotations

import io

from rich.console import Console

from perfkit.cli.progress import RichProgress
from perfkit.pool.bench import PoolBenchOptions, plan_points, point_label


def _shown(progress: RichProgress) -> str:
    """The progress line as a terminal 100 columns wide would show it now."""
    assert progress.progress is not None
    rec = Console(file=io.StringIO(), width=100, color_system=None)
    with rec.capture() as cap:
        rec.print(progress.progress.get_renderable())
    return cap.get()


def _fake(clock: list[float]) -> RichProgress:
    quiet = Console(file=io.StringIO(), width=100, force_terminal=False, color_system=None)
    return RichProgress(quiet, get_time=lambda: clock[0])


def test_reading_logs_shows_megabytes_rate_and_time_left() -> None:
    clock = [0.0]
    bar = _fake(clock)
    bar.start("Reading logs", total=66_446_775, unit="bytes")
    clock[0] = 1.0
    bar.update(completed=8_388_759)
    clock[0] = 2.0
    bar.update(completed=16_777_518)
    line = _shown(bar)
    bar.finish()
    assert "16777518" not in line and "66446775" not in line
    assert "16.8/66.4 MB" in line
    assert "8.4 MB/s" in line  # 8.4 MB read per second of the clock
    assert "0:00:06" in line  # 49.7 MB left at 8.4 MB/s


def test_counted_work_shows_done_of_total() -> None:
    clock = [0.0]
    bar = _fake(clock)
    bar.start("explaining", total=12)
    for _ in range(3):
        bar.advance()
    line = _shown(bar)
    assert " 3/12 " in line and " MB" not in line
    # the same bar switches to bytes when the next stage reads a log
    bar.start("Reading logs", total=2_000_000, unit="bytes")
    assert "0.0/2.0 MB" in _shown(bar)
    bar.finish()
    assert bar.progress is None


def test_pool_progress_label_says_what_runs() -> None:
    options = PoolBenchOptions(clients=(1, 8), pool_sizes=(2,), fresh=True, async_mode=True)
    labels = [point_label(p) for p in plan_points(options, 1)]
    assert labels == [
        "fresh connections, 1 client",
        "pool of 2, 1 client",
        "async pool of 2, 1 client",
        "fresh connections, 8 clients",
        "pool of 2, 8 clients",
        "async pool of 2, 8 clients",
    ]
    assert not any("pool pool" in label for label in labels)
    compare = plan_points(options, 2)[-1]
    assert point_label(compare, "compare") == "compare: async pool of 2, 8 clients"
