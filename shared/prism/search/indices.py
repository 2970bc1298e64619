"""One OpenSearch index per entity, created from index templates with explicit mappings, written through
aliases.

Writers and readers only ever name the alias (``products``); the index behind it is ``products-v1``. A
mapping change is a new template version, a reindex into ``products-v2`` and an atomic alias swap, never
downtime. Each document holds the searchable fields, the bookkeeping fields (``version``, ``deleted``), and
the whole item in ``item``, stored but not indexed (``enabled: false``), so a search hit carries everything
the API returns without a DynamoDB read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

#: The generation a new alias starts at; ``reindex`` moves it to the next (``products-v2``, ...).
FIRST_GENERATION: Final = 1

#: Searched as words and filtered/sorted/faceted as exact values.
_TEXT_AND_KEYWORD: Final = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
_KEYWORD: Final = {"type": "keyword"}
#: Money: exact to the cent (the full-precision value stays in ``item``).
_MONEY: Final = {"type": "scaled_float", "scaling_factor": 100}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}

SETTINGS: Final = {"number_of_shards": 1}

#: Fields every document has, whatever its entity.
_COMMON: Final[dict[str, Any]] = {
    "id": _KEYWORD,
    "entity": _KEYWORD,
    "version": {"type": "long"},
    "deleted": {"type": "boolean"},
    "created_at": _DATE,
    "updated_at": _DATE,
    "item": {"type": "object", "enabled": False},
}


@dataclass(frozen=True)
class EntityIndex:
    """Where one entity's documents live and how they are mapped.

    ``prefix`` (SEARCH_INDEX_PREFIX, empty on AWS) lets several stacks share one OpenSearch, as local
    stacks share one osmem: stack ``t1`` writes ``t1-products``.
    """

    entity: str
    name: str  # the alias without prefix: products
    fields: dict[str, Any]  # the entity's searchable fields (beyond _COMMON), copied from the item

    def alias(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    def template_name(self, prefix: str = "") -> str:
        return f"prism-{prefix}{self.name}"

    def index_pattern(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}-v*"

    def generation_index(self, generation: int, prefix: str = "") -> str:
        return f"{prefix}{self.name}-v{generation}"

    def generation_of(self, index_name: str, prefix: str = "") -> int | None:
        """The generation of ``index_name`` (``products-v3`` -> 3), or None for an index not of this alias."""
        head = f"{prefix}{self.name}-v"
        tail = index_name.removeprefix(head)
        return int(tail) if index_name.startswith(head) and tail.isdigit() else None

    def fingerprint(self) -> str:
        """A short hash of the mapping the code defines: an index whose ``_meta`` holds another was built
        from an older mapping and needs ``reindex``."""
        properties = json.dumps(_COMMON | self.fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(properties.encode()).hexdigest()[:12]

    def mappings(self) -> dict[str, Any]:
        # strict: a field the sink does not know of is a bug to surface, not a mapping to guess.
        return {
            "_meta": {"owner": "prism", "mapping": self.fingerprint()},
            "dynamic": "strict",
            "properties": _COMMON | self.fields,
        }

    def template_body(self, prefix: str = "") -> dict[str, Any]:
        return {
            "index_patterns": [self.index_pattern(prefix)],
            "priority": 100,
            "template": {"settings": SETTINGS, "mappings": self.mappings()},
            "_meta": {"owner": "prism", "mapping": self.fingerprint()},
        }


INDICES: Final[dict[str, EntityIndex]] = {
    index.entity: index
    for index in (
        EntityIndex(
            "customer",
            "customers",
            {"name": _TEXT_AND_KEYWORD, "email": _TEXT_AND_KEYWORD, "tier": _TEXT_AND_KEYWORD},
        ),
        EntityIndex(
            "product",
            "products",
            {"name": _TEXT_AND_KEYWORD, "category": _TEXT_AND_KEYWORD, "price": _MONEY, "stock": {"type": "long"}},
        ),
        EntityIndex("order", "orders", {"customer_id": _KEYWORD, "status": _TEXT_AND_KEYWORD, "total": _MONEY}),
    )
}


def index_for(entity: str) -> EntityIndex:
    """The index of ``entity``; KeyError for an entity without one."""
    return INDICES[entity]


def ensure_indices(client: OpenSearch, prefix: str = "") -> list[str]:
    """Put every index template and create each ``<alias>-v1`` with its alias, unless the alias exists
    (after a ``reindex`` it points at a later generation, which is left as it is).

    Idempotent and cheap (one request per template, one alias check per entity): the local stack calls it on
    ``stack up`` and the sink at every cold start. Returns the aliases it created.
    """
    created: list[str] = []
    for index in INDICES.values():
        client.indices.put_index_template(name=index.template_name(prefix), body=index.template_body(prefix))
        alias = index.alias(prefix)
        if client.indices.exists_alias(name=alias):
            continue
        # 400 (resource_already_exists_exception): another cold start created it first.
        client.indices.create(
            index=index.generation_index(FIRST_GENERATION, prefix),
            body={"aliases": {alias: {"is_write_index": True}}},
            ignore=[400],
        )
        created.append(alias)
    return created
