-- The latest state of every key: the newest version of each (entity, id), unless that version is a delete.
-- The Glue view `latest` (template.yaml, LakeLatestView) and `prism lake query` both run exactly this SQL over
-- the table `changes`; tests/unit/test_lake_catalog.py fails if the two drift apart.
SELECT entity, id, version, event_time, item
FROM (
  SELECT *, row_number() OVER (PARTITION BY entity, id ORDER BY version DESC) AS rn
  FROM changes
)
WHERE rn = 1 AND op <> 'delete'
