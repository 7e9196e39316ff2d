"""Rich-backed progress bar for the CLI (stderr, transient).

A byte total (analyze and replay reading logs) shows megabytes, the read rate and the
time left - ``16.8/66.4 MB 12.1 MB/s 0:00:04`` - not ``16777518/66446775``; a count
(statements, runs, benchmark points) shows ``3/12`` and the time taken and left.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from perfkit.report.progress import Unit


def columns(unit: Unit) -> tuple[ProgressColumn, ...]:
    """The columns of a bar whose total counts ``unit``."""
    head: tuple[ProgressColumn, ...] = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
    )
    if unit == "bytes":
        return (*head, DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    return (*head, MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())


class RichProgress:
    def __init__(
        self, console: Console | None = None, get_time: Callable[[], float] | None = None
    ) -> None:
        self._console = console or Console(stderr=True)
        self._get_time = get_time
        self._progress: Progress | None = None
        self._unit: Unit = "items"
        self._task: TaskID | None = None

    @property
    def progress(self) -> Progress | None:
        """The rich progress shown now (``None`` before start and after finish)."""
        return self._progress

    def start(self, description: str, total: float | None = None, *, unit: Unit = "items") -> None:
        if self._progress is not None and self._task is not None and unit == self._unit:
            self._progress.reset(self._task, total=total, description=description)
            return
        self.finish()
        self._unit = unit
        self._progress = Progress(
            *columns(unit),
            console=self._console,
            transient=True,
            get_time=self._get_time,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: float = 1.0) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def update(self, *, completed: float | None = None, description: str | None = None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, description=description)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None
