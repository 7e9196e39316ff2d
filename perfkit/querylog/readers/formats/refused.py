"""Logs that are not PostgreSQL's: recognised so that they are refused by name, never
read as another format (a pgBouncer log looks much like a stderr log with a generic
prefix, and would give an empty or wrong report)."""

from __future__ import annotations

import re
from typing import ClassVar

from perfkit.querylog.readers.formats.base import Refused

_TS = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: ?(?:[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?|Z))?"


class PgBouncerLog(Refused):
    # "2024-01-01 10:00:00.123 UTC [1234] LOG C-0x55d...: db/user@1.2.3.4:5000 login attempt"
    name: ClassVar[str] = "pgBouncer log"
    pattern: ClassVar[re.Pattern[str]] = re.compile(
        _TS + r" (?:\[\d+\]|\d+) (?:LOG|WARNING|ERROR|FATAL|NOISE|DEBUG|INFO) (?!\S*:  )"
    )


class MysqlSlowLog(Refused):
    name: ClassVar[str] = "MySQL/MariaDB slow query or general log"
    pattern: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:# Time: |# User@Host: |# Query_time: |# Thread_id: |SET timestamp=\d+;|"
        r"\S*mysqld(?:\.exe)?, Version: |Tcp port: \d+ +Unix socket: |Time +Id Command +Argument)"
    )
    share: ClassVar[float] = 0.01  # any such line among the first ones


class AccessLog(Refused):
    # 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326
    name: ClassVar[str] = "web server access log (nginx/Apache)"
    pattern: ClassVar[re.Pattern[str]] = re.compile(
        r'^\S+ \S+ \S+ \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "'
    )


class MongoLog(Refused):
    name: ClassVar[str] = "MongoDB log"
    pattern: ClassVar[re.Pattern[str]] = re.compile(r'^\{"t":\{"\$date":')


REFUSED: tuple[Refused, ...] = (PgBouncerLog(), MysqlSlowLog(), AccessLog(), MongoLog())
