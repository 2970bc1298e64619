"""The entity store: the port the API depends on (``port.EntityStore``) and its one DynamoDB implementation
(``dynamodb.DynamoEntityStore``), built by the API's wiring. The key design is described in docs/data-model.md."""
