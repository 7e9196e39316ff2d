"""Database layer shared by every command that needs a server.

* :func:`resolve_target` - where to connect: ``--dsn``, ``PERFKIT_DSN``, libpq ``PG*``
  variables, the config file's ``[db] dsn``, else the embedded cluster.
* :func:`connect` - a psycopg connection with perfkit's session settings
  (``application_name=perfkit``, ``statement_timeout``, ``lock_timeout``, read-only
  unless asked) and errors mapped to :mod:`perfkit.errors`.
* :func:`detect_server_version` - the server's version (``ServerVersion``).
* :func:`session_defaults` - statement/lock/connect timeouts from config ``[db]``.
* :func:`load_sql` - the ``.sql`` file for a query, chosen by server version.
* :func:`mask_dsn` - a DSN safe to print (never shows a password).

This module imports nothing heavy; psycopg is imported inside the functions.
"""

from perfkit.db.sql import load_sql
from perfkit.db.target import Target, mask_dsn, resolve_target

__all__ = [
    "ServerVersion",
    "SessionDefaults",
    "Target",
    "connect",
    "detect_server_version",
    "load_sql",
    "mask_dsn",
    "resolve_target",
    "session_defaults",
]

_LAZY = ("connect", "detect_server_version", "session_defaults", "ServerVersion", "SessionDefaults")


def __getattr__(name: str) -> object:
    # perfkit.db.connect imports nothing heavy either, but keep `import perfkit.db` minimal
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module("perfkit.db.connect"), name)
    raise AttributeError(name)
