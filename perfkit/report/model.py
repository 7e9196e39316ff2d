"""The neutral report model every command renders through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Align = Literal["left", "right"]
Style = Literal["", "bad", "warn", "good", "dim"]


@dataclass(frozen=True)
class Column:
    """One column of a table. ``fmt`` is a format spec for numbers ("{:.2f}")."""

    key: str
    header: str
    align: Align = "left"
    fmt: str | None = None


@dataclass(frozen=True)
class Table:
    """A titled table. Cells are plain values; ``None`` renders as empty.

    ``row_styles`` optionally marks rows (same length as ``rows``) so the terminal
    renderer can highlight bad/good rows; text formats ignore it.
    """

    name: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    row_styles: Sequence[Style] | None = None


@dataclass(frozen=True)
class Document:
    """Everything a report says, independent of how it is shown.

    * ``kind`` and ``schema_version`` go at the top of the JSON output.
    * ``data`` is the JSON payload (must be JSON-serialisable via ``to_jsonable``).
    * ``tables`` are shown in order by table/markdown; CSV emits ``tables[0]``
      unless another table is picked by name.
    * ``summary`` lines are shown above the tables (terminal, markdown).
    * ``verdict`` is a closing line ("no regression", "recommended pool size: 5").
    * ``extras`` are pre-rendered text blocks for the terminal only (plan trees, bars).
    """

    kind: str
    schema_version: int
    data: Mapping[str, Any]
    tables: Sequence[Table] = ()
    title: str = ""
    summary: Sequence[str] = ()
    verdict: str = ""
    warnings: Sequence[str] = ()
    extras: Sequence[str] = field(default_factory=tuple)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)
