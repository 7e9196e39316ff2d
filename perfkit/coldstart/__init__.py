"""Cold-start profiling: where a handler's import time goes, and what to defer.

Library entry point: :func:`profile` returns a frozen :class:`ColdstartResult`
(per-run totals in ``result.totals_ms`` for statistical comparisons). Only the
standard library is imported here; scipy is loaded for ``--baseline`` only.
"""

from perfkit.coldstart.core import estimate_lambda, profile
from perfkit.coldstart.model import DEFAULT_PRICE_PER_GB_S, ColdstartResult

__all__ = ["DEFAULT_PRICE_PER_GB_S", "ColdstartResult", "estimate_lambda", "profile"]
