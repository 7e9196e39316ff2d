"""Read once at cold start: used at module level, so it must stay eager."""

import os
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Settings:
    table: str
    vat: Decimal


SETTINGS = Settings(os.environ.get("ORDERS_TABLE", "orders"), Decimal("0.2"))
