"""Whether perfkit writes ANSI colour: one decision for reports, warnings and progress.

Precedence: ``--color always|never`` > ``NO_COLOR`` (https://no-color.org) >
``FORCE_COLOR`` > ``TERM=dumb`` > whether the stream is a terminal. No rich import here:
the CLI asks before it knows whether it will render anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Any

COLOR_MODES = ("auto", "always", "never")


def _isatty(stream: IO[Any] | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def use_color(
    stream: IO[Any] | None, mode: str = "auto", environ: Mapping[str, str] | None = None
) -> bool:
    """Whether to colour what goes to ``stream`` under ``--color mode``."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if mode != "auto":
        raise ValueError(f"colour mode must be one of {', '.join(COLOR_MODES)}, not {mode!r}")
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", ""):
        return False
    force = env.get("FORCE_COLOR", "")
    if force:
        return force.lower() not in ("0", "false", "no", "off")
    if env.get("TERM", "") == "dumb":
        return False
    return _isatty(stream)
