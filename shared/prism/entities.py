"""The contract between items in the table and the change pipeline.

An item is a Prism entity when its ``entity`` attribute names one of ``ENTITY_TYPES``. Every entity item
carries a string ``id`` and an integer ``version`` that grows with every write to its key, including across
delete and re-create (DESIGN invariant 2). A soft-deleted item (a tombstone) has ``deleted = true`` and a
version newer than the live item it replaced. Items that are not entities (uniqueness guards, idempotency
records, ...) are skipped by the fanout and counted.
"""

from __future__ import annotations

from typing import Final

ENTITY_TYPES: Final = frozenset({"customer", "product", "order"})

ENTITY_ATTRIBUTE: Final = "entity"
ID_ATTRIBUTE: Final = "id"
VERSION_ATTRIBUTE: Final = "version"
DELETED_ATTRIBUTE: Final = "deleted"
