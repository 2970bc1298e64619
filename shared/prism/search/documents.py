"""A change -> the bulk action that writes its document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prism.changes.envelope import Op
from prism.search.indices import index_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prism.changes.envelope import ChangeEvent


def document(change: ChangeEvent) -> dict[str, Any]:
    """The document a change leaves: the item's searchable fields and the whole item, or a tombstone."""
    image = None if change.op is Op.DELETE else change.image
    return document_of(change.entity, change.id, change.version, image)


def document_of(entity: str, entity_id: str, version: int, image: Mapping[str, Any] | None) -> dict[str, Any]:
    """The document of one entity at ``version``: its searchable fields (the current mapping's) and the whole
    ``image``, or a tombstone when ``image`` is None. The sink builds documents from changes with it, and
    ``reindex`` rebuilds stored documents with it, so both follow the code's current mapping."""
    base: dict[str, Any] = {"id": entity_id, "entity": entity, "version": version}
    if image is None:
        return base | {"deleted": True}
    index = index_for(entity)
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
