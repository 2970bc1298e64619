"""Customers in DynamoDB, with their emails kept unique by guard items written in the same transaction.

Each customer owns the guard ``EMAIL#{lower(email)}``. Create puts the guard (only if absent) with the
customer; an email change puts the new guard, deletes the old one (only if this customer owns it) and
rewrites the customer (only at the version read); delete tombstones the customer and deletes its guard.
So two customers never hold one email, whatever runs concurrently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prism.domain.errors import ConflictError
from prism.domain.ids import is_customer_id, new_customer_id
from prism.domain.models import Customer, CustomerCreate, CustomerPatch, Page
from prism.domain.versions import check_expected_version, version_after
from prism.store.items import CustomerItem, EmailGuardItem
from prism.store.keys import CUSTOMERS_LISTING, CUSTOMERS_PARTITION, customer_key, customers_index_key, email_guard_key
from prism.store.listings import Listing, check_limit, page_of, start_position
from prism.store.mapping import apply_changes, customer_from_item, tombstone_for
from prism.store.refusals import lost_race, not_found
from prism.store.table_access import Delete, Put, WriteRefused, exclusive_start_key, put, read, transact
from prism.versioning import next_version

if TYPE_CHECKING:
    from prism.domain.cursor import CursorCodec
    from prism.store.items import TableItems

ENTITY = "customer"
LISTING = Listing.over_index(CUSTOMERS_LISTING)


def email_taken(email: str) -> ConflictError:
    return ConflictError(
        f"another customer already uses the email {email}", code="email_taken", details={"email": email}
    )


class DynamoCustomers:
    def __init__(self, items: TableItems, cursors: CursorCodec) -> None:
        self._items = items
        self._cursors = cursors

    def live_item(self, customer_id: str) -> CustomerItem:
        """The customer's item; NotFoundError when there is none or it was deleted."""
        item = read(self._items.customer, customer_key(customer_id)) if is_customer_id(customer_id) else None
        if item is None or item.is_tombstone:
            raise not_found(ENTITY, customer_id)
        return item

    def create(self, data: CustomerCreate) -> Customer:
        now = datetime.now(UTC)
        customer_id = new_customer_id()
        key, index = customer_key(customer_id), customers_index_key(now, customer_id)
        item = self._items.customer(
            pk=key.pk,
            sk=key.sk,
            entity=ENTITY,
            id=customer_id,
            version=next_version(None),
            created_at=now,
            updated_at=now,
            email=data.email,
            name=data.name,
            tier=data.tier.value,
            gsi1pk=index.gsi1pk,
            gsi1sk=index.gsi1sk,
        )
        try:
            transact(
                self._items.connection,
                [
                    Put(self._guard(data.email, customer_id), EmailGuardItem.pk.does_not_exist(), "email"),
                    Put(item, CustomerItem.pk.does_not_exist(), "customer"),
                ],
            )
        except WriteRefused as exc:
            if "email" in exc.refused:
                raise email_taken(data.email) from exc
            raise ConflictError("a customer id collided; retry the request", code="id_collision") from exc
        return customer_from_item(item)

    def get(self, customer_id: str) -> Customer:
        return customer_from_item(self.live_item(customer_id))

    def update(self, customer_id: str, patch: CustomerPatch, expected_version: int | None) -> Customer:
        item = self.live_item(customer_id)
        check_expected_version(f"{ENTITY} {customer_id}", item.version, expected_version)
        read_version, old_email = item.version, item.email
        changes = {
            "email": patch.email,
            "name": patch.name,
            "tier": None if patch.tier is None else patch.tier.value,
        }
        if not apply_changes(item, changes):
            return customer_from_item(item)
        item.version, item.updated_at = version_after(read_version), datetime.now(UTC)
        unchanged_version = CustomerItem.version == read_version
        try:
            if email_guard_key(old_email) == email_guard_key(item.email):
                put(item, unchanged_version, "customer")
            else:
                transact(
                    self._items.connection,
                    [
                        Put(self._guard(item.email, customer_id), EmailGuardItem.pk.does_not_exist(), "new_email"),
                        Delete(self._guard(old_email, customer_id), EmailGuardItem.owner == customer_id, "old_email"),
                        Put(item, unchanged_version, "customer"),
                    ],
                )
        except WriteRefused as exc:
            if "new_email" in exc.refused:
                raise email_taken(item.email) from exc
            raise lost_race(ENTITY, customer_id, expected_version) from exc
        return customer_from_item(item)

    def delete(self, customer_id: str, expected_version: int | None) -> int:
        item = self.live_item(customer_id)
        check_expected_version(f"{ENTITY} {customer_id}", item.version, expected_version)
        tombstone = tombstone_for(self._items, item, version=version_after(item.version), now=datetime.now(UTC))
        try:
            transact(
                self._items.connection,
                [
                    Put(tombstone, CustomerItem.version == item.version, "customer"),
                    Delete(self._guard(item.email, customer_id), EmailGuardItem.owner == customer_id, "email"),
                ],
            )
        except WriteRefused as exc:
            raise lost_race(ENTITY, customer_id, expected_version) from exc
        return tombstone.version

    def list_page(self, limit: int, cursor: str | None) -> Page[Customer]:
        """Customers, oldest first."""
        check_limit(limit)
        start = start_position(self._cursors, LISTING, cursor)
        results = self._items.customer.gsi1.query(
            CUSTOMERS_PARTITION, page_size=limit + 1, last_evaluated_key=exclusive_start_key(start)
        )
        return page_of(
            results,
            self._items.customer,
            cursors=self._cursors,
            listing=LISTING,
            limit=limit,
            to_api=customer_from_item,
            page_type=Page[Customer],
        )

    def _guard(self, email: str, owner: str) -> EmailGuardItem:
        key = email_guard_key(email)
        return self._items.email_guard(pk=key.pk, sk=key.sk, owner=owner)
