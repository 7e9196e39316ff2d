"""Lazy-load candidates (static analysis) and the baseline verdict."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from perfkit.coldstart.baseline import Baseline, compare, load_baseline
from perfkit.coldstart.deferrable import ImportSite, analyze_project, analyze_source
from perfkit.errors import InputError

SOURCE = """\
import json
import csv
import decimal
import dataclasses
import fractions
import statistics
import heapq
import uuid
import logging
import sqlite3
import zlib
import pprint
import typing
import os.path
import os
import email.message
import email.utils
from collections import OrderedDict
try:
    import ujson
except ImportError:
    ujson = None

__all__ = ["heapq"]
log = logging.getLogger(__name__)


@dataclasses.dataclass
class Row:
    amount: decimal.Decimal


def traced(fn):
    return fn


@traced
def handler(event, context, sep=os.sep):
    return json.dumps(event) + csv.QUOTE_ALL.name + email.message.Message().as_string()


def stats(x: fractions.Fraction) -> float:
    return statistics.mean(x)


def make_id():
    return uuid.uuid4()


ID = make_id()


class Store:
    def __init__(self):
        self.db = sqlite3.connect(":memory:")


STORE = Store()


def later():
    return zlib.compress(b"x"), OrderedDict()


if __name__ == "__main__":
    pprint.pprint(later())
"""


def _sites(version: tuple[int, int] = (3, 11), source: str = SOURCE) -> dict[str, tuple[bool, str]]:
    a = analyze_source(source, file="m.py", module="m", is_package=False, version=version)
    return {s.statement: (s.candidate, s.reason) for s in a.sites}


def test_candidates_are_imports_used_only_inside_functions() -> None:
    sites = _sites()
    flagged = sorted(k for k, (c, _) in sites.items() if c)
    assert flagged == [
        "from collections import OrderedDict",
        "import csv",
        "import email.message",
        "import json",
        "import statistics",
        "import zlib",
    ]


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("import decimal", "used at import time (line 30)"),  # dataclass field annotation
        ("import dataclasses", "used at import time (line 28)"),  # decorator
        ("import os", "used at import time (line 38)"),  # default argument
        ("import fractions", "used at import time (line 42)"),  # evaluated annotation
        ("import heapq", "'heapq' is re-exported in __all__"),
        ("import uuid", "used in make_id, called at import time (line 50)"),
        ("import logging", "used at import time (line 25)"),
        ("import sqlite3", "used in Store, called at import time (line 58)"),
        ("import pprint", "not used in this module (imported for side effects or re-export)"),
        ("import typing", "not used in this module (imported for side effects or re-export)"),
        ("import email.utils", "not used in this module (imported for side effects or re-export)"),
        ("import ujson", "inside try/except (a fallback import)"),
    ],
)
def test_imports_needed_at_import_time_are_not_flagged(statement: str, reason: str) -> None:
    assert _sites()[statement] == (False, reason)


def test_annotations_are_lazy_with_future_import_or_pep_649() -> None:
    src = "from __future__ import annotations\n" + SOURCE
    assert _sites(source=src)["import fractions"][0] is True
    # Python 3.14 (PEP 649) defers annotations without the future import
    assert _sites((3, 14))["import fractions"][0] is True
    # but a decorated function's annotations may be read by the decorator
    dec = "from __future__ import annotations\nimport fractions\n@traced\ndef f(x: fractions.Fraction):\n    pass\ndef traced(f):\n    return f\n"
    assert _sites(source=dec)["import fractions"] == (False, "used at import time (line 4)")


def test_fix_depends_on_the_python_version() -> None:
    old = analyze_source(SOURCE, file="m.py", module="m", is_package=False, version=(3, 12))
    new = analyze_source(SOURCE, file="m.py", module="m", is_package=False, version=(3, 15))
    fix_old = next(s.fix for s in old.sites if s.statement == "import json")
    fix_new = next(s.fix for s in new.sites if s.statement == "import json")
    assert fix_old is not None and fix_new is not None
    assert fix_old.kind == "function-local"
    assert fix_old.text == "line 1: move `import json` into handler()"
    assert fix_old.alternative.startswith("add `__lazy_modules__ = ['json']` above line 1")
    assert fix_new.kind == "lazy-import"
    assert fix_new.text == "line 1: `lazy import json` (PEP 810)"


def test_annotation_only_use_moves_under_type_checking() -> None:
    src = "from __future__ import annotations\nimport decimal\n\ndef f(x: decimal.Decimal) -> None:\n    pass\n"
    a = analyze_source(src, file="m.py", module="m", is_package=False, version=(3, 11))
    (site,) = a.sites
    assert site.candidate and site.fix is not None
    assert site.fix.kind == "type-checking"
    assert (
        site.fix.text
        == "line 2: move `import decimal` under `if TYPE_CHECKING:` for the annotations"
    )


def _by_statement(src: str) -> dict[str, ImportSite]:
    a = analyze_source(
        textwrap.dedent(src), file="m.py", module="m", is_package=False, version=(3, 12)
    )
    return {s.statement: s for s in a.sites}


def test_an_import_used_by_a_module_level_lambda_gets_a_fix_one_can_apply() -> None:
    sites = _by_statement(
        """
        import json
        import decimal
        import csv

        handler = lambda event, context: json.dumps(event)
        TABLE = {"d": lambda r: decimal.Decimal(r)}

        def outer():
            return lambda x: csv.reader(x)
        """
    )
    fixes = {k: s.fix.text for k, s in sites.items() if s.fix is not None}
    # no function named "<lambda>" to move it into: the lambda must become a def
    assert fixes["import json"] == (
        "line 2: move `import json` into a `def handler(...)` in place of the lambda on "
        "line 6 (a lambda cannot hold an import statement)"
    )
    assert fixes["import decimal"] == (
        "line 3: move `import decimal` into a `def` in place of the lambda on line 7 "
        "(a lambda cannot hold an import statement)"
    )
    # a lambda inside a function: the function that defines it takes the import
    assert fixes["import csv"] == "line 4: move `import csv` into outer()"
    assert not any("<lambda>()" in text for text in fixes.values())


def test_type_checking_flag_is_kept_for_the_guard_that_reads_it() -> None:
    sites = _by_statement(
        """
        from typing import TYPE_CHECKING
        import typing

        if TYPE_CHECKING:
            from decimal import Decimal

        if typing.TYPE_CHECKING:
            import fractions
        """
    )
    flag, module = sites["from typing import TYPE_CHECKING"], sites["import typing"]
    assert not flag.candidate and not module.candidate
    assert flag.reason == "needed at import time by `if TYPE_CHECKING:` (line 5)"
    assert module.reason == ("needed at import time by `if typing.TYPE_CHECKING:` (line 8)")
    assert "not used in this module" not in flag.reason


def test_project_walk_follows_own_modules_and_cross_module_imports(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/handler.py": """\
            from pkg import util
            from pkg.models import json

            def handler(event, context):
                return util.go(event)
            """,
        "pkg/util.py": "import csv\n\ndef go(e):\n    return csv.QUOTE_ALL\n",
        "pkg/models.py": "import json\n\ndef dump(x):\n    return json.dumps(x)\n",
        "pkg/unused.py": "import zlib\n\ndef f():\n    return zlib\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    result = analyze_project("pkg.handler", [tmp_path], (3, 11))
    assert sorted(m.name for m in result.modules) == [
        "pkg",
        "pkg.handler",
        "pkg.models",
        "pkg.util",
    ]
    by = {(s.importer, s.statement): s for s in result.sites}
    assert by[("pkg.handler", "from pkg import util")].candidate
    assert by[("pkg.util", "import csv")].candidate
    # another project module imports `json` from pkg.models: it must stay there
    assert by[("pkg.models", "import json")].reason == (
        "'json' is imported from pkg.models by another project module"
    )


def _baseline(totals: list[float]) -> Baseline:
    return Baseline("base.json", tuple(totals), {"a": 50.0, "b": 10.0}, "3.11.7")


def test_baseline_verdicts_use_the_u_test() -> None:
    base = _baseline([100.0, 101.0, 99.5, 100.4, 100.9, 99.8, 100.2])
    slower = [112.0, 111.0, 113.5, 112.2, 110.9, 111.7, 112.4]
    r = compare(base, slower, {"a": 62.0, "b": 10.1, "c": 3.0})
    assert r.verdict == "regression"
    assert r.p_value is not None and r.p_value < 0.01
    assert [(m.name, m.delta_ms) for m in r.modules] == [("a", 12.0), ("c", 3.0)]
    noisy = [99.0, 103.0, 98.0, 101.5, 100.1, 102.0, 99.9]
    assert compare(base, noisy, {}).verdict == "no significant change"
    faster = [80.0, 81.0, 79.5, 80.2, 80.9, 81.1, 79.9]
    assert compare(base, faster, {}).verdict == "improvement"
    # 3 against 3: the test can never reach p < 0.05
    small = compare(_baseline([100.0, 101.0, 99.0]), [150.0, 151.0, 149.0], {})
    assert small.verdict == "inconclusive" and small.p_value is None


def test_a_bad_baseline_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("not json")
    with pytest.raises(InputError, match="baseline is not JSON"):
        load_baseline(bad)
    bad.write_text(json.dumps({"kind": "analyze", "schema_version": 1}))
    with pytest.raises(InputError, match="not a `perfkit coldstart --format json` result"):
        load_baseline(bad)
    with pytest.raises(InputError, match="cannot read baseline"):
        load_baseline(tmp_path / "missing.json")


def test_dependencies_installed_next_to_the_handler_are_not_project_code(tmp_path: Path) -> None:
    # `pip install -t .` puts libraries beside handler.py, with their .dist-info
    (tmp_path / "handler.py").write_text("import vendlib\n\ndef h(e, c):\n    return vendlib.X\n")
    (tmp_path / "vendlib").mkdir()
    (tmp_path / "vendlib" / "__init__.py").write_text("import json\n\ndef f():\n    return json\n")
    (tmp_path / "vendlib-1.0.dist-info").mkdir()
    (tmp_path / "vendlib-1.0.dist-info" / "RECORD").write_text(
        "vendlib/__init__.py,sha256=x,10\nvendlib-1.0.dist-info/RECORD,,\n"
    )
    result = analyze_project("handler", [tmp_path], (3, 11))
    assert [m.name for m in result.modules] == ["handler"]
    assert [s.module for s in result.candidates] == ["vendlib"]


def test_baseline_from_json_and_from_result_agree(tmp_path: Path) -> None:
    from perfkit.coldstart.core import profile_log
    from perfkit.coldstart.report import to_document
    from perfkit.report.render import render

    header = "import time: self [us] | cumulative | imported package\n"
    log = tmp_path / "a.log"  # three processes, each importing `mod`
    log.write_text(
        "".join(f"{header}import time: {v:9d} | {v:10d} | mod\n" for v in (1000, 1100, 1200))
    )
    result = profile_log([log])
    assert result.totals_ms == (1.0, 1.1, 1.2)
    saved = tmp_path / "r.json"
    saved.write_text(render(to_document(result), "json"))
    loaded = load_baseline(saved)
    direct = Baseline.from_result(result, str(saved))
    assert loaded.totals_ms == direct.totals_ms
    assert dict(loaded.modules_ms) == dict(direct.modules_ms) == {"mod": 1.1}
