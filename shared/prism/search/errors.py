"""The search sink's errors; each fails only the records it names."""

from __future__ import annotations

from prism.errors import PrismError


class SearchUnavailableError(PrismError):
    """OpenSearch kept refusing a document with 429 or 5xx (or could not be reached) through every bounded
    retry. SQS retries the record later; retrying may help."""


class SearchDocumentRejectedError(PrismError):
    """OpenSearch refused a document for good (a 400: a value the mapping cannot parse). The record fails;
    SQS retries it, then the search queue's redrive policy moves it to SearchDeadLetterQueue."""
