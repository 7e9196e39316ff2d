"""Passwords never leave perfkit: find them in connection strings and scrub them from text.

Two layers, both used where perfkit renders text (errors, ``--debug`` tracebacks, reports
and every file it writes):

* structural: ``scheme://user:PASSWORD@host`` is shown as ``scheme://user:***@host`` and
  ``password=VALUE`` as ``password=***``, whatever the rest of the text is, so a message
  that echoes a DSN perfkit could not even parse still shows no password;
* known secrets: every password perfkit was given - in a DSN on the command line or in a
  config file, ``PGPASSWORD``, any environment variable holding a DSN, a libpq password
  file or service file - is replaced wherever it appears (raw, percent-decoded, JSON, CSV
  and markdown spellings), because libpq quotes fragments of a bad DSN
  (``invalid percent-encoded token: "s3cr%zz"``) that no pattern can recognise.

Nothing here raises on malformed input, and nothing imports more than the standard library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MASK = "***"

_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# A URI runs to the next blank or quote: that is how messages and reports delimit it.
_URI_END = re.compile(r"[\s\"'<>`]")
# key=value conninfo: a quoted value may hold blanks and \' escapes; an unterminated quote
# runs to the end of the line (libpq rejects it, and its message must not show the rest).
# (PGPASSWORD=... is masked too; a value already masked is left as it is.)
_KV_VALUE = r"('(?:[^'\\\n]|\\.)*(?:'|\\?(?=\n|$))|\S+)"
_KV_PASSWORD = re.compile(r"(?<!\w)((?:pg)?password\s*=\s*)(?!\*\*\*)" + _KV_VALUE, re.IGNORECASE)
_KV_PASSFILE = re.compile(r"(?<!\w)passfile\s*=\s*" + _KV_VALUE, re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"((?:^|[?&])password=)([^&#\s]*)", re.IGNORECASE)

_registered: set[str] = set()
_passfiles: set[str] = set()
_file_cache: dict[str, tuple[tuple[int, int], frozenset[str]]] = {}


def _split_uri(rest: str) -> tuple[str | None, str]:
    """``rest`` is the part after ``://``: (userinfo or None, everything after its ``@``).

    The userinfo ends at the last ``@`` before the query; an ``@`` only in the query (a
    password with an unencoded ``?``) still counts, so a bad URI is masked, not shown.
    """
    head = rest.split("?", 1)[0]
    at = head.rfind("@")
    if at < 0:
        at = rest.rfind("@")
    if at < 0:
        return None, rest
    return rest[:at], rest[at + 1 :]


def mask_after_scheme(rest: str) -> str:
    """``user:PASSWORD@host/db?password=X`` (what follows ``scheme://``) with both hidden."""
    userinfo, after = _split_uri(rest)
    if userinfo is not None and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        rest = f"{user}:{MASK}@{after}"
    if "?" in rest:
        base, query = rest.split("?", 1)
        rest = base + "?" + _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, query)
    return rest


def _uris(text: str) -> Iterable[tuple[int, int, int]]:
    """(start of scheme, end of ``://``, end of the URI) of every URI-like run in ``text``."""
    pos = text.find("://")
    while pos >= 0:
        start = pos
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        m = _URI_END.search(text, pos + 3)
        end = m.start() if m else len(text)
        if start < pos:
            yield start, pos + 3, end
        pos = text.find("://", end)


def mask_text(text: str, *, key_values: bool = True) -> str:
    """The structural layer: URI passwords (userinfo and ``?password=``) and, with
    ``key_values``, ``password=...`` values anywhere in ``text``. Never raises."""
    if "://" in text:
        out: list[str] = []
        last = 0
        for _start, body, end in _uris(text):
            out.append(text[last:body])
            out.append(mask_after_scheme(text[body:end]))
            last = end
        out.append(text[last:])
        text = "".join(out)
    if key_values:
        text = mask_key_values(text)
    return text


def mask_key_values(text: str) -> str:
    """``password=VALUE`` (key=value conninfo, any case, quoted or not) as ``password=***``."""
    if "=" not in text:
        return text
    return _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, text)


def _unquote_kv(value: str) -> str:
    if value.startswith("'"):
        inner = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
        return re.sub(r"\\(.)", r"\1", inner)
    return value


_CONNINFO = re.compile(r"\s*(?:[A-Za-z_]\w*\s*=\s*(?:'(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s']*)\s*)+")
_OPTION_PREFIX = re.compile(r"-{1,2}[\w-]+=")


def looks_like_conninfo(text: str) -> bool:
    """Whether ``text`` is a key=value conninfo string as a whole (``host=h password=p``;
    an ``--dsn=`` prefix allowed), not SQL that compares a column named password."""
    return bool(_CONNINFO.fullmatch(_OPTION_PREFIX.sub("", text, count=1)))


def secrets_in(text: str) -> set[str]:
    """The passwords written in ``text`` (a DSN, a command line, a config value): those of
    every URI in it, and the ``password=`` of a key=value conninfo."""
    from urllib.parse import unquote

    found: set[str] = set()
    if not text:
        return found

    def add(value: str) -> None:
        if value:
            found.add(value)
            decoded = unquote(value, errors="replace")
            if decoded and "\ufffd" not in decoded:
                found.add(decoded)

    for _start, body, end in _uris(text):
        userinfo, after = _split_uri(text[body:end])
        if userinfo is not None and ":" in userinfo:
            add(userinfo.split(":", 1)[1])
        if "?" in after:
            for m in _QUERY_PASSWORD.finditer(after.split("?", 1)[1]):
                add(m.group(2))
    for m in _KV_PASSWORD.finditer(text) if looks_like_conninfo(text) else ():
        raw = m.group(2)
        add(raw)
        add(_unquote_kv(raw))
        if raw.startswith("'"):
            add(raw[1:].rstrip("'"))
    return found


def _passfiles_in(text: str) -> set[str]:
    from urllib.parse import unquote

    files = {_unquote_kv(m.group(1)) for m in _KV_PASSFILE.finditer(text)}
    for _start, body, end in _uris(text):
        rest = text[body:end]
        if "?" in rest:
            for m in re.finditer(r"(?:^|&)passfile=([^&#]*)", rest.split("?", 1)[1]):
                files.add(unquote(m.group(1)))
    return {f for f in files if f}


def register(text: str | None) -> None:
    """Remember the passwords in ``text`` (and the password files it names), so that
    :func:`scrub` hides them wherever they turn up later."""
    if not text or not isinstance(text, str):
        return
    _registered.update(secrets_in(text))
    _passfiles.update(_passfiles_in(text))


def register_secret(value: str | None) -> None:
    """Remember one secret value as it is (e.g. a password given on its own)."""
    if value:
        _registered.add(value)


def register_values(data: Any) -> None:
    """Register every string in a parsed config (nested tables and arrays); the value
    of a key named like ``password`` is a secret as a whole."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, str) and "password" in str(key).lower():
                register_secret(value)
            register_values(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            register_values(value)
    elif isinstance(data, str):
        register(data)


def _read_cached(path: str, parse: Any) -> frozenset[str]:
    try:
        st = os.stat(path)
    except OSError:
        return frozenset()
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _file_cache.get(path)
    if hit and hit[0] == stamp:
        return hit[1]
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        values: frozenset[str] = frozenset()
    else:
        values = frozenset(v for v in parse(text) if v)
    _file_cache[path] = (stamp, values)
    return values


def _passfile_passwords(text: str) -> Iterable[str]:
    """The password field of each ``host:port:db:user:password`` line (``\\:`` escapes)."""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields: list[str] = []
        cur: list[str] = []
        chars = iter(line)
        for ch in chars:
            if ch == "\\":
                cur.append(next(chars, ""))
            elif ch == ":" and len(fields) < 4:
                fields.append("".join(cur))
                cur = []
            else:
                cur.append(ch)
        if len(fields) == 4:
            yield "".join(cur)


def _service_passwords(text: str) -> Iterable[str]:
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip().lower() == "password":
            yield value.strip()


def _home() -> Path | None:
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return None


def known_secrets() -> set[str]:
    """Every password perfkit may have been handed: registered ones, ``PGPASSWORD``, DSNs in
    any environment variable, and the entries of libpq's password and service files."""
    out = set(_registered)
    env = os.environ
    if env.get("PGPASSWORD"):
        out.add(env["PGPASSWORD"])
    passfiles = set(_passfiles)
    for value in env.values():
        if "password" in value.lower() or "://" in value:
            out.update(secrets_in(value))
            passfiles.update(_passfiles_in(value))
    home = _home()
    passfiles.add(env.get("PGPASSFILE") or (str(home / ".pgpass") if home else ""))
    for path in passfiles:
        if path:
            out.update(_read_cached(os.path.expanduser(path), _passfile_passwords))
    services = {env.get("PGSERVICEFILE") or (str(home / ".pg_service.conf") if home else "")}
    if env.get("PGSYSCONFDIR"):
        services.add(os.path.join(env["PGSYSCONFDIR"], "pg_service.conf"))
    for path in services:
        if path:
            out.update(_read_cached(path, _service_passwords))
    out.discard(MASK)
    out.discard("")
    return out


def _spellings(secret: str) -> set[str]:
    """How a secret may be written in a report: as is, JSON-escaped, CSV-quoted, XML-escaped
    (JUnit, HTML) and with markdown's escaped pipes."""
    import json
    from html import escape

    return {
        secret,
        escape(secret),
        escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.replace('"', '""'),
        secret.replace("|", "\\|"),
    }


def scrub(text: str, *, key_values: bool = True) -> str:
    """``text`` with every password hidden: :func:`mask_text`, then every known secret.

    ``key_values=False`` leaves ``password = ...`` in reports alone (a logged SQL statement
    may compare a column named password); known secrets are still replaced everywhere.
    """
    if not text:
        return text
    text = mask_text(text, key_values=key_values)
    spellings = {s for secret in known_secrets() for s in _spellings(secret) if s}
    # Longest first: a secret that contains another is replaced as a whole. A secret is
    # replaced where it is not part of a longer word, so that a password such as
    # "postgres" hides the password but leaves "postgresql://" readable.
    for secret in sorted(spellings, key=len, reverse=True):
        if secret in text:
            text = re.sub(
                r"(?<![A-Za-z0-9_])" + re.escape(secret) + r"(?![A-Za-z0-9_])", MASK, text
            )
    return text


def forget() -> None:
    """Drop registered secrets (tests, long-lived library processes)."""
    _registered.clear()
    _passfiles.clear()
    _file_cache.clear()
