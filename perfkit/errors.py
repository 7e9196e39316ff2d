"""The one exception hierarchy of perfkit.

Every error a user can cause or meet derives from :class:`PerfkitError` and says
*where* the problem is (file and line, option, config key, database target).
The CLI maps them to exit codes in exactly one place
(``perfkit.cli.PerfkitGroup.invoke``, in ``perfkit/cli/__init__.py``):

* 0 - success
* 1 - the tool ran and found a failure or a regression (:class:`FindingError`)
* 2 - bad usage, bad input, or a target that could not be used (everything else)
* 130 - interrupted (Ctrl-C); 143 - terminated (SIGTERM), after the same clean-up
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM)


class PerfkitError(Exception):
    """Base class. ``str(err)`` is the one-line message shown to the user."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PerfkitError):
    """A command-line option has a bad value."""

    def __init__(self, option: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{option}: {message}", hint=hint)
        self.option = option


class InputError(PerfkitError):
    """An input file (log, dump, config, event, SQL file) cannot be used."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = str(path) if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = str(path)
        self.line = line


class ConfigError(InputError):
    """A config file is wrong: names the file, the section and the key, as
    ``perfkit.toml: [analyze] slow_ms: must be a number, not 'abc'``."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        section: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        # as the file reads: the table's header, then the key (`[analyze] slow_ms: ...`)
        if section and key:
            text = f"[{section}] {key}: {message}"
        elif section:
            text = f"[{section}] {message}"
        else:
            text = f"{key}: {message}" if key else message
        super().__init__(path, text, line=line)
        self.section = section
        self.key = key


class DatabaseError(PerfkitError):
    """A database target cannot be reached or used. ``target`` is always masked."""

    def __init__(self, target: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{target}: {message}", hint=hint)
        self.target = target


class ConnectionFailed(DatabaseError):
    """Host unreachable, wrong port, timeout."""


class AuthenticationFailed(DatabaseError):
    """The server rejected the credentials (the password is never shown)."""


class UnsafeOperation(PerfkitError):
    """An operation would write to a target and the user did not ask for it by flag."""


class TargetError(PerfkitError):
    """A user's code (handler module, import target) failed; the message carries its own error."""


class TruncatedInput(InputError):
    """A compressed or streamed input ended early: results would be partial."""


class FindingError(PerfkitError):
    """The tool worked and found what the user asked to be told about (a regression)."""

    exit_code = EXIT_FINDING


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the CLI's handler. It is a ``KeyboardInterrupt``
    so that every clean-up written for Ctrl-C (temp files, ``/dev/shm``, worker pools,
    rolled-back transactions) runs for SIGTERM too; the CLI exits with 143."""
