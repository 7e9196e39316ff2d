"""Database layer shared by every command that needs a server.

* :func:`resolve_target` - where to connect: ``--dsn``, ``PERFKIT_DSN``, libpq ``PG*``
  variables, the config file's ``[db] dsn``, else the embedded cluster.
* :func:`connect` - a psycopg connection with perfkit's session settings
  (``application_name=perfkit``, ``statement_timeout``, ``lock_timeout``, read-only
  unless asked) and errors mapped to :mod:`perfkit.errors`.
* :func:`load_sql` - the ``.sql`` file for a query, chosen by server version.
* :func:`mask_dsn` - a DSN safe to print (never shows a password).

This module imports nothing heavy; psycopg is imported inside the functions.
"""

from perfkit.db.sql import load_sql
from perfkit.db.target import Target, mask_dsn, resolve_target

__all__ = ["Target", "connect", "load_sql", "mask_dsn", "resolve_target"]


def __getattr__(name: str) -> object:
    if name == "connect":
        from perfkit.db.connect import connect

        return connect
    raise AttributeError(name)
