"""The neutral report model every command renders through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Align = Literal["left", "right"]
Style = Literal["", "bad", "warn", "good", "dim"]


class Clipped(str):
    """A cell's full text that tables and markdown show cut to ``width`` characters.

    The value *is* the whole text: CSV and JSON write all of it (machines get the full
    query, the full fingerprint id); :func:`perfkit.report.cells.format_cell` cuts it for
    people, whitespace runs folded, ending in ``cut`` (``"…"``; ``""`` for an id, whose
    prefix is still an id).
    """

    width: int
    cut: str
    display: str | None

    def __new__(
        cls, text: str, width: int, cut: str = "\u2026", display: str | None = None
    ) -> Clipped:
        obj = super().__new__(cls, text)
        obj.width = width
        obj.cut = cut
        obj.display = display
        return obj

    def shown(self) -> str:
        """The text a person sees: folded to one line and cut at ``width`` (or the
        ``display`` text given for a cell made of several cut parts)."""
        if self.display is not None:
            return self.display
        text = " ".join(self.split()) if self.cut else str(self)
        if len(text) <= self.width:
            return text
        return text[: max(self.width - len(self.cut), 0)] + self.cut


def clip(text: str | None, width: int, cut: str = "\u2026") -> Clipped | None:
    """``text`` as a :class:`Clipped` cell (``None`` stays ``None``)."""
    return None if text is None else Clipped(text, width, cut)


def joined(parts: Sequence[str], width: int, sep: str = "; ") -> Clipped:
    """Several texts in one cell: all of each in CSV/JSON, each cut at ``width`` for people."""
    shown = sep.join(Clipped(p, width).shown() for p in parts)
    return Clipped(sep.join(parts), width, display=shown)


def short_id(fingerprint: str | None, width: int = 8) -> Clipped | None:
    """A fingerprint id: tables show its first ``width`` characters, CSV/JSON all of it."""
    return clip(fingerprint, width, "")


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
