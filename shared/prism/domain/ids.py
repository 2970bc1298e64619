"""Entity ids. Customers and orders get server ids that sort by creation time; products use the client's sku.

A server id is a prefix, 12 hex digits of Unix milliseconds, and 8 random hex digits (``c_0193a1b2c3d4e5f6a7b8``):
ids made later sort later, and two ids made in the same millisecond still differ.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final

CUSTOMER_ID_PATTERN: Final = r"^c_[0-9a-f]{20}$"
ORDER_ID_PATTERN: Final = r"^o_[0-9a-f]{20}$"
SKU_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"

_CUSTOMER_ID: Final = re.compile(CUSTOMER_ID_PATTERN)
_ORDER_ID: Final = re.compile(ORDER_ID_PATTERN)
_SKU: Final = re.compile(SKU_PATTERN)


def _server_id(prefix: str, now_ms: int | None) -> str:
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return f"{prefix}_{millis:012x}{secrets.token_hex(4)}"


def new_customer_id(*, now_ms: int | None = None) -> str:
    return _server_id("c", now_ms)


def new_order_id(*, now_ms: int | None = None) -> str:
    return _server_id("o", now_ms)


def is_customer_id(value: str) -> bool:
    return _CUSTOMER_ID.fullmatch(value) is not None


def is_order_id(value: str) -> bool:
    return _ORDER_ID.fullmatch(value) is not None


def is_sku(value: str) -> bool:
    return _SKU.fullmatch(value) is not None
