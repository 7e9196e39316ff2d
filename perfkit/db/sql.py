"""SQL that perfkit sends lives in ``perfkit/db/queries/*.sql``, chosen by server version.

A query ``name`` may have several files: ``name.sql`` (any version) and
``name.pg16.sql`` (used on 16 and newer). The file with the highest version not above
the server's major version wins.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_VERSIONED = re.compile(r"^(?P<name>.+?)(?:\.pg(?P<major>\d+))?\.sql$")


@cache
def _index() -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for entry in resources.files("perfkit.db.queries").iterdir():
        m = _VERSIONED.match(entry.name)
        if m:
            major = int(m.group("major") or 0)
            out.setdefault(m.group("name"), {})[major] = entry.name
    return out


def load_sql(name: str, server_version: int = 0) -> str:
    """Text of query ``name`` for a server whose ``server_version_num`` (or major) is given."""
    major = server_version // 10000 if server_version >= 10000 else server_version
    variants = _index().get(name)
    if not variants:
        raise KeyError(f"no SQL file for query {name!r}")
    usable = [v for v in variants if v <= major] or ([0] if 0 in variants else [])
    if not usable:
        raise KeyError(f"query {name!r} has no variant for PostgreSQL {major}")
    fname = variants[max(usable)]
    return resources.files("perfkit.db.queries").joinpath(fname).read_text(encoding="utf-8")
