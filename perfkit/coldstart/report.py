"""ColdstartResult -> Document (pure)."""

from __future__ import annotations

from collections.abc import Iterator

from perfkit.coldstart.model import KIND, SCHEMA_VERSION, ColdstartResult, TreeNode
from perfkit.report.model import Column, Document, Style, Table
from perfkit.report.render import to_jsonable

BAR_WIDTH = 24
MIN_SHOWN_SAVING_MS = 1.0


def to_document(result: ColdstartResult, *, top: int = 20, terminal: bool = False) -> Document:
    """``terminal``: the import tree with bars as a text block (table format);
    otherwise a flat ``modules`` table (csv/markdown). JSON carries everything."""
    r = result
    data = to_jsonable(r)
    data["totals_ms"] = list(r.totals_ms)
    summary = [
        f"import: median {r.import_ms.median:.1f} ms (min {r.import_ms.min:.1f}, max "
        f"{r.import_ms.max:.1f}) over {len(r.runs)} runs, {r.module_count} modules"
        + (f"; process wall {r.wall_ms.median:.1f} ms" if r.wall_ms else ""),
    ]
    if r.handler:
        h = r.handler
        summary.append(
            f"handler {h.function}(): first call {_ms(h.first_call_ms.median)} ms "
            f"(imports during it {_ms(h.first_call_imports_ms.median)} ms), "
            f"warm call {_ms(h.second_call_ms.median)} ms"
        )
    if r.total_saving_ms is not None and r.candidates:
        summary.append(
            f"deferring all {len(r.candidates)} candidate import(s) would save "
            f"{r.total_saving_ms:.1f} ms ({_pct(r.total_saving_ms, r.import_ms.median)})"
        )
    if r.lambda_estimate:
        lam = r.lambda_estimate
        line = (
            f"Lambda {lam.memory_mb} MB: init ~{lam.estimated_init_ms:.0f} ms "
            f"(x{lam.cpu_factor:.2f} CPU share), {lam.gb_seconds_per_cold_start:.4f} GB-s, "
            f"${lam.cost_per_million_cold_starts:.2f} per million cold starts"
        )
        if lam.init_share is not None:
            line += f", {lam.init_share * 100:.1f}% of a cold invocation"
        if lam.saving_per_million_cold_starts is not None and r.candidates:
            line += f"; deferring saves ${lam.saving_per_million_cold_starts:.2f}/million"
        summary.append(line)
    tables: list[Table] = []
    extras: list[str] = []
    if terminal:
        extras.append(tree_text(r, top=top))
    else:
        tables.append(_modules_table(r, top))
    if r.analyzed:
        tables.append(_candidates_table(r, top))
    if r.baseline:
        tables.append(_baseline_table(r, top))
    verdict = ""
    if r.baseline:
        b = r.baseline
        verdict = (
            f"{b.verdict}: {b.baseline_median_ms:.1f} -> {b.current_median_ms:.1f} ms "
            f"({b.delta_ms:+.1f} ms, {b.delta_pct:+.1f}%); {b.reason}"
        )
    return Document(
        kind=KIND,
        schema_version=SCHEMA_VERSION,
        data=data,
        tables=tuple(tables),
        title=f"cold start of {r.target}"
        + (f" (Python {r.python_version})" if r.python_version else " (from importtime logs)"),
        summary=tuple(summary),
        verdict=verdict,
        warnings=r.warnings,
        extras=tuple(extras),
    )


def _pct(part: float, whole: float) -> str:
    return f"{part / whole * 100:.0f}%" if whole > 0 else "-"


def _modules_table(r: ColdstartResult, top: int) -> Table:
    cols = (
        Column("module", "Module"),
        Column("parent", "Imported by"),
        Column("cumulative_ms", "Cum ms", "right", "{:.1f}"),
        Column("cumulative_min_ms", "Min", "right", "{:.1f}"),
        Column("cumulative_max_ms", "Max", "right", "{:.1f}"),
        Column("self_ms", "Self ms", "right", "{:.1f}"),
        Column("self_min_ms", "Self min", "right", "{:.1f}"),
        Column("self_max_ms", "Self max", "right", "{:.1f}"),
        Column("share_pct", "Share %", "right", "{:.1f}"),
    )
    total = r.import_ms.median or 1.0
    rows = [
        (
            m.name,
            m.parent,
            m.cumulative_ms.median,
            m.cumulative_ms.min,
            m.cumulative_ms.max,
            m.self_ms.median,
            m.self_ms.min,
            m.self_ms.max,
            round(m.cumulative_ms.median / total * 100, 2),
        )
        for m in r.modules[:top]
    ]
    return Table("modules", f"Top {top} modules by cumulative import time", cols, rows)


def _candidates_table(r: ColdstartResult, top: int) -> Table:
    cols = (
        Column("saving_ms", "Saves ms", "right", "{:.1f}"),
        Column("location", "Where"),
        Column("statement", "Import"),
        Column("fix", "Fix"),
    )
    rows: list[tuple[float | None, str, str, str]] = []
    small = 0
    for c in r.candidates:
        if c.saving_ms is not None and c.saving_ms < MIN_SHOWN_SAVING_MS:
            small += 1  # the module is (nearly) free or needed at import time anyway
            continue
        if len(rows) < top:
            where = f"{_short(c.file, r.cwd)}:{c.line}"
            rows.append((c.saving_ms, where, c.statement, _fix_text(c.fix.text)))
    title = "Lazy-load candidates"
    if small:
        title += f" ({small} more saving under {MIN_SHOWN_SAVING_MS:g} ms: see --format json)"
    return Table("candidates", title, cols, rows)


def _fix_text(text: str) -> str:
    return text.split(": ", 1)[1] if text.startswith("line ") else text


def _short(path: str, base: str) -> str:
    import os

    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _baseline_table(r: ColdstartResult, top: int) -> Table:
    """Modules that moved, with their own verdict where they were tested (Holm-corrected)."""
    b = r.baseline
    assert b is not None
    cols = (
        Column("module", "Module"),
        Column("baseline_ms", "Before ms", "right", "{:.1f}"),
        Column("current_ms", "Now ms", "right", "{:.1f}"),
        Column("delta_ms", "Delta ms", "right", "{:+.1f}"),
        Column("p_holm", "p (Holm)", "right", "{:.3g}"),
        Column("verdict", "Verdict"),
    )
    tested = {v.name: v for v in b.module_verdicts}
    # every module with a verdict first, then the largest moves
    shown = [v.name for v in b.module_verdicts if v.verdict != "no significant change"]
    shown += [m.name for m in b.modules if m.name not in shown]
    diffs = {m.name: m for m in b.modules}
    rows: list[tuple[object, ...]] = []
    styles: list[Style] = []
    for name in shown[:top]:
        v = tested.get(name)
        d = diffs.get(name)
        before = d.baseline_ms if d else (v.baseline_ms if v else None)
        after = d.current_ms if d else (v.current_ms if v else None)
        delta = v.delta_ms if v else (d.delta_ms if d else 0.0)
        verdict = v.verdict if v else "not tested"
        rows.append((name, before, after, delta, v.adjusted_p if v else None, verdict))
        styles.append(
            "bad" if verdict == "regression" else "good" if verdict == "improvement" else ""
        )
    title = (
        f"Change against {b.baseline_file} (cumulative; runs interleaved, paired)"
        if b.paired
        else "Change against the baseline (cumulative)"
    )
    return Table("baseline", title, cols, rows, styles)


def _walk(
    nodes: tuple[TreeNode, ...], keep: set[str], prefix: str | None
) -> Iterator[tuple[str, TreeNode]]:
    shown = [n for n in nodes if n.name in keep]
    for i, node in enumerate(shown):
        last = i == len(shown) - 1
        if prefix is None:  # top-level imports: no branch glyphs
            yield "", node
            yield from _walk(node.children, keep, "")
            continue
        yield prefix + ("└─ " if last else "├─ "), node
        yield from _walk(node.children, keep, prefix + ("   " if last else "│  "))


def tree_text(r: ColdstartResult, *, top: int = 20) -> str:
    """The top ``top`` modules by cumulative time as a tree, each with a bar."""
    keep = {m.name for m in r.modules[:top]}
    total = r.import_ms.median or 1.0
    lines = [f"{'cum ms':>9} {'self ms':>8}  {'':{BAR_WIDTH}}  module"]
    for prefix, node in _walk(r.tree, keep, None):
        filled = node.cumulative_ms / total * BAR_WIDTH
        bar = "█" * int(filled) + ("▌" if filled - int(filled) >= 0.5 else "")
        lines.append(
            f"{node.cumulative_ms:9.1f} {node.self_ms:8.1f}  {bar:<{BAR_WIDTH}}  {prefix}{node.name}"
        )
    return "\n".join(lines)
