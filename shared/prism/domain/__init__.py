"""The commerce domain behind the API: models, rules and errors. Pure Python; nothing here talks to AWS."""
