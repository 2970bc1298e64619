"""Reading envelopes on the sink side: a message body to a ChangeEvent, claim checks resolved transparently."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prism.changes import exact_json
from prism.changes.claim_check import ClaimCheck, verify
from prism.changes.envelope import ChangeEvent
from prism.errors import MalformedChangeError

if TYPE_CHECKING:
    from prism.changes.claim_check import ClaimCheckStore


class ChangeReader:
    """Turns SQS message bodies into envelopes; a body that points to a claim check is fetched and verified."""

    def __init__(self, claim_checks: ClaimCheckStore) -> None:
        self._claim_checks = claim_checks

    def read(self, body: str) -> ChangeEvent:
        """The envelope in ``body``. MalformedChangeError if it is not one; ClaimCheckError if its
        claim check cannot be fetched (which may be transient, so callers retry that)."""
        try:
            document: Any = exact_json.loads(body)
        except ValueError as exc:
            raise MalformedChangeError(f"message body is not JSON: {exc}") from exc
        if isinstance(document, dict) and "claim_check" in document:
            claim = ClaimCheck.from_document(document["claim_check"])
            change = ChangeEvent.from_json(verify(claim, self._claim_checks.get(claim)))
            if change.event_id != document.get("event_id"):
                raise MalformedChangeError(
                    f"claim check {claim.key} holds event {change.event_id}, not {document.get('event_id')}"
                )
            return change
        return ChangeEvent.from_document(document)
