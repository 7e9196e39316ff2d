"""The registry of log formats perfkit reads (one module each, see
:mod:`~perfkit.querylog.readers.formats.base`) and of formats it refuses by name.

Detection is by content: the formats are asked in their ``order`` (envelopes first,
then structured formats, then stderr/syslog whose prefix inference is permissive, then
``.sql``); the first that recognises the input's first lines reads it. A log that is
known not to be PostgreSQL's (pgBouncer, MySQL, a web server) is refused before any of
them, and so is an input no format recognises: one line naming the file, the formats
tried and the first line.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfkit.errors import InputError
from perfkit.querylog.readers.formats.azure import AzureFormat
from perfkit.querylog.readers.formats.base import Detected, Head, LogFormat, clip
from perfkit.querylog.readers.formats.cloudwatch import CloudwatchFormat
from perfkit.querylog.readers.formats.cnpg import CnpgFormat
from perfkit.querylog.readers.formats.cri import CriFormat
from perfkit.querylog.readers.formats.csvlog import CsvlogFormat
from perfkit.querylog.readers.formats.docker import DockerFormat
from perfkit.querylog.readers.formats.gcp import GcpFormat
from perfkit.querylog.readers.formats.heroku import HerokuFormat
from perfkit.querylog.readers.formats.journald import JournaldFormat
from perfkit.querylog.readers.formats.jsonl import JsonlFormat
from perfkit.querylog.readers.formats.jsonlog import JsonlogFormat
from perfkit.querylog.readers.formats.pgss import PgssCsvFormat, PgssJsonFormat
from perfkit.querylog.readers.formats.refused import REFUSED
from perfkit.querylog.readers.formats.rfc5424 import Rfc5424Format
from perfkit.querylog.readers.formats.sql import SqlFormat
from perfkit.querylog.readers.formats.stderr import StderrFormat, SyslogFormat
from perfkit.querylog.readers.formats.timestamped import TimestampedFormat

REGISTRY: dict[str, LogFormat] = {
    f.name: f
    for f in sorted(
        (
            StderrFormat(),
            SyslogFormat(),
            CsvlogFormat(),
            JsonlogFormat(),
            CnpgFormat(),
            SqlFormat(),
            JsonlFormat(),
            PgssCsvFormat(),
            PgssJsonFormat(),
            CriFormat(),
            DockerFormat(),
            HerokuFormat(),
            Rfc5424Format(),
            JournaldFormat(),
            CloudwatchFormat(),
            GcpFormat(),
            AzureFormat(),
            TimestampedFormat(),
        ),
        key=lambda f: f.order,
    )
}

#: every name --log-format takes, in detection order
NAMES: tuple[str, ...] = tuple(REGISTRY)


def tried() -> str:
    return ", ".join(NAMES)


def refuse(head: Head) -> None:
    """Raise for a log perfkit knows it cannot read."""
    first = head.first
    if first is None:
        return
    for r in REFUSED:
        if r.matches(head):
            raise InputError(
                head.name,
                f"is a {r.name}, not a PostgreSQL log perfkit reads (formats: {tried()}): "
                f"{clip(first[1])}",
                line=first[0],
            )


def no_format(head: Head, among: Iterable[str] | None = None) -> InputError:
    first = head.first
    assert first is not None
    names = ", ".join(among) if among is not None else tried()
    return InputError(
        head.name,
        f"matches no supported log format (tried {names}): {clip(first[1])}",
        line=first[0],
        hint="pass --prefix '<your log_line_prefix>' or --log-format",
    )


def detect(head: Head, forced: str | None) -> Detected:
    """The format of one input (``head.first`` must not be None)."""
    if forced is not None:
        return REGISTRY[forced].force(head)
    refuse(head)
    return _first_fit(head, REGISTRY.values(), tried_names=None)


def _first_fit(
    head: Head, formats: Iterable[LogFormat], tried_names: Iterable[str] | None
) -> Detected:
    """The first format that reads the input. A format that recognises the input but
    refuses it (PostgreSQL messages under a prefix no inference fits) does not end the
    search: a later format may read it (a ``.sql`` file whose lines look like messages).
    Its refusal is the answer only when no other format fits."""
    refusal: InputError | None = None
    for fmt in formats:
        try:
            det = fmt.detect(head)
        except InputError as exc:
            refusal = refusal or exc
            continue
        if det is not None:
            return det
    if refusal is not None:
        raise refusal
    raise no_format(head, tried_names)


def detect_wrapped(head: Head, among: tuple[str, ...] | None) -> Detected:
    """The format of the lines inside an envelope."""
    names = among or tuple(n for n, f in REGISTRY.items() if f.wrappable)
    return _first_fit(head, (REGISTRY[n] for n in names), names)


__all__ = ["NAMES", "REGISTRY", "Detected", "Head", "LogFormat", "detect", "detect_wrapped"]
