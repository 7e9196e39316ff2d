"""The click that Typer runs on, reached through Typer's public names only.

Typer up to 0.25 ran on the ``click`` package; from 0.26 it carries its own copy as the
private ``typer._click``, which its authors say may change at any time. perfkit needs a
few of its classes that Typer does not re-export (the usage errors it raises, the
context type, where a parameter's value came from). Importing ``typer._click`` by name
would crash the day that module moves; instead each class is taken from the modules
that Typer's public ``typer.BadParameter`` and ``typer.Context`` are defined in, which
are the click modules Typer really uses, whatever their name.

This is the only perfkit module that reaches into click; every other one imports from
here (``tests/test_private_imports.py`` holds that line). Under a type checker the names
are the vendored module's own, so signatures are checked against the real classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the classes mypy checks against (never imported at run time)
    from typer._click.core import Context, ParameterSource
    from typer._click.exceptions import (
        BadOptionUsage,
        BadParameter,
        ClickException,
        MissingParameter,
        NoArgsIsHelpError,
        NoSuchOption,
        UsageError,
    )
    from typer._click.formatting import HelpFormatter
    from typer._click.globals import get_current_context
else:
    _core = importlib.import_module(typer.Context.__mro__[1].__module__)
    _exceptions = importlib.import_module(typer.BadParameter.__module__)
    _package = _core.__name__.rpartition(".")[0]
    _formatting = importlib.import_module(f"{_package}.formatting")
    _globals = importlib.import_module(f"{_package}.globals")

    Context = _core.Context
    ParameterSource = _core.ParameterSource
    BadOptionUsage = _exceptions.BadOptionUsage
    BadParameter = _exceptions.BadParameter
    ClickException = _exceptions.ClickException
    MissingParameter = _exceptions.MissingParameter
    NoArgsIsHelpError = _exceptions.NoArgsIsHelpError
    NoSuchOption = _exceptions.NoSuchOption
    UsageError = _exceptions.UsageError
    HelpFormatter = _formatting.HelpFormatter
    get_current_context = _globals.get_current_context

__all__ = [
    "BadOptionUsage",
    "BadParameter",
    "ClickException",
    "Context",
    "HelpFormatter",
    "MissingParameter",
    "NoArgsIsHelpError",
    "NoSuchOption",
    "ParameterSource",
    "UsageError",
    "get_current_context",
]
