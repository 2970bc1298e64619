"""The data lake (S3, queried with Athena; DuckDB locally): every change, as gzipped newline-delimited JSON in
Hive-style partitions ``entity=…/dt=…/hour=…``, one object per partition per batch under a key derived from
the batch's change ids, so a retried batch rewrites the same object instead of adding a copy."""
