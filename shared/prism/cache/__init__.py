"""The read cache (ElastiCache Redis): read-through for the API, version-guarded invalidation for the cache sink.

The cache is never required (DESIGN invariant 5): every read path degrades to the loader when Redis fails.
Key layout, entry encoding and the single-flight choice are explained in docs/cache.md.
"""
