"""The REST API: Powertools' APIGatewayRestResolver over the domain store, reading through the Redis cache."""
