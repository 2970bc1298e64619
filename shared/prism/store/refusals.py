"""The domain errors a store operation ends in when the table says no."""

from __future__ import annotations

from prism.domain.errors import ConflictError, NotFoundError, PreconditionFailedError, PrismDomainError


def not_found(entity: str, entity_id: str) -> NotFoundError:
    return NotFoundError(f"{entity} {entity_id} does not exist", details={"entity": entity, "id": entity_id})


def lost_race(entity: str, entity_id: str, expected_version: int | None) -> PrismDomainError:
    """A write whose version condition failed: another request changed or deleted the item after it was read.

    With an expected version (If-Match) the precondition no longer holds (412); without one, it is a
    conflict (409) the client resolves by reading again.
    """
    what = f"{entity} {entity_id}"
    if expected_version is not None:
        return PreconditionFailedError(
            f"{what} changed while this request was applied, so it is no longer at version {expected_version}; "
            "read it again and retry with its current ETag",
            details={"entity": entity, "id": entity_id, "expected_version": expected_version},
        )
    return ConflictError(
        f"{what} was changed by another request at the same time; read it again and retry",
        code="version_conflict",
        details={"entity": entity, "id": entity_id},
    )
