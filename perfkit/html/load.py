"""Reading a saved JSON report: one clear line for a file that is not one."""

from __future__ import annotations

import json
import sys
from typing import Any

from perfkit.errors import InputError

__all__ = ["load_report"]


def load_report(path: str) -> dict[str, Any]:
    """The JSON report at ``path`` (``-``: stdin), checked to be one this perfkit draws."""
    from perfkit.html import check_report

    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory") from None
    except UnicodeDecodeError:
        raise InputError(name, "not a JSON report (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    check_report(data, name)
    return data  # type: ignore[no-any-return]
