"""Prism: DynamoDB-first polyglot persistence. This package is the Lambda layer shared by every function."""
