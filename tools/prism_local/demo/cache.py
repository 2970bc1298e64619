"""What the cache holds: every entity entry of the stack's Redis, found by the cache's own key layout and
decoded as the API decodes it (``prism.cache.entries``), so the demo can set it beside DynamoDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism.cache.entries import KeyLayout, decode_entry

if TYPE_CHECKING:
    from collections.abc import Iterable

    from redis import Redis

    from prism_local.demo.report import CacheEntry

#: Keys per SCAN step; the demo's cache holds a few hundred.
SCAN_COUNT = 500


def read_cache(
    client: Redis, entities: Iterable[str], layout: KeyLayout | None = None
) -> dict[tuple[str, str], CacheEntry]:
    """Every entry of ``entities`` in ``client``'s database by (entity, id): a body, an absence, or None (a fence).

    Keys are matched by ``layout``'s entry key with ``*`` for the id; entity names hold no glob characters,
    and fill locks live under another prefix, so nothing else matches.
    """
    keys = layout if layout is not None else KeyLayout()
    entries: dict[tuple[str, str], CacheEntry] = {}
    for entity in entities:
        start = len(keys.entry(entity, ""))
        for key in client.scan_iter(match=keys.entry(entity, "*"), count=SCAN_COUNT):
            name = key.decode() if isinstance(key, bytes) else str(key)
            raw = client.get(name)
            if raw is None:
                continue  # expired between SCAN and GET
            entries[(entity, name[start:])] = decode_entry(raw if isinstance(raw, bytes) else str(raw).encode())
    return entries
