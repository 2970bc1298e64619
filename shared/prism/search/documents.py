"""A change -> the bulk action that writes its document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prism.changes.envelope import Op
from prism.search.indices import index_for

if TYPE_CHECKING:
    from prism.changes.envelope import ChangeEvent


def document(change: ChangeEvent) -> dict[str, Any]:
    """The document a change leaves: the item's searchable fields and the whole item, or a tombstone."""
    base: dict[str, Any] = {"id": change.id, "entity": change.entity, "version": change.version}
    image = change.image
    if change.op is Op.DELETE or image is None:
        return base | {"deleted": True}
    index = index_for(change.entity)
    fields = {name: image[name] for name in (*index.fields, "created_at", "updated_at") if name in image}
    return base | fields | {"deleted": False, "item": image}


def action(change: ChangeEvent, prefix: str = "") -> dict[str, Any]:
    """The bulk ``index`` action line: into the entity's alias, under the entity id, with the change's
    version as an external version (OpenSearch keeps only a strictly newer one)."""
    return {
        "index": {
            "_index": index_for(change.entity).alias(prefix),
            "_id": change.id,
            "version": change.version,
            "version_type": "external",
        }
    }
