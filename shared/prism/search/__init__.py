"""The search projection: one OpenSearch index per entity, kept equal to DynamoDB by the search sink."""
