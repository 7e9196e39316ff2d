"""Cold-start profiling: where a handler's import time goes, and what to defer.

Library entry point: :func:`profile` returns a frozen :class:`ColdstartResult`
(per-run totals in ``result.totals_ms`` for statistical comparisons). Only the
standard library is imported here; scipy is loaded for ``--baseline`` only.
"""

from perfkit.coldstart.core import estimate_lambda, profile, run_spec
from perfkit.coldstart.model import DEFAULT_PRICE_PER_GB_S, ColdstartResult
from perfkit.coldstart.runner import count_run_instructions

__all__ = [
    "DEFAULT_PRICE_PER_GB_S",
    "ColdstartResult",
    "count_run_instructions",
    "estimate_lambda",
    "profile",
    "run_spec",
]
