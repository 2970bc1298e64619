"""Customers in the real table (moto, provisioned from template.yaml): versions, optimistic locking, email
uniqueness under concurrency, tombstones, listings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from prism.changes.envelope import Op
from prism.domain.errors import ConflictError, NotFoundError, PreconditionFailedError
from prism.domain.models import Customer, CustomerCreate, CustomerPatch, CustomerTier
from tests.support.entity_store import StoreUnderTest, provisioned_store, unique_email

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(moto_endpoint: str) -> Iterator[StoreUnderTest]:
    with provisioned_store(moto_endpoint, "customers") as provisioned:
        yield provisioned


def new_customer(table: StoreUnderTest, name: str = "Ada") -> Customer:
    return table.store.create_customer(CustomerCreate(email=unique_email(name), name=name))


def test_a_customer_is_created_read_updated_and_deleted_with_a_newer_version_at_each_write(
    table: StoreUnderTest,
) -> None:
    store = table.store
    email = unique_email("grace")

    created = store.create_customer(CustomerCreate(email=email, name="Grace", tier=CustomerTier.GOLD))
    read = store.get_customer(created.id)
    updated = store.update_customer(created.id, CustomerPatch(name="Grace H."), expected_version=created.version)
    tombstone_version = store.delete_customer(created.id, expected_version=updated.version)

    assert read == created
    assert (created.email, created.name, created.tier) == (email, "Grace", CustomerTier.GOLD)
    assert created.id.startswith("c_")
    assert (updated.name, updated.email) == ("Grace H.", email)
    assert created.version < updated.version < tombstone_version
    assert updated.created_at == created.created_at < updated.updated_at
    with pytest.raises(NotFoundError):
        store.get_customer(created.id)


def test_a_patch_that_changes_nothing_writes_nothing(table: StoreUnderTest) -> None:
    customer = new_customer(table)

    same = table.store.update_customer(customer.id, CustomerPatch(name=customer.name, tier=customer.tier))

    assert same == customer


def test_an_if_match_for_another_version_is_refused_and_writes_nothing(table: StoreUnderTest) -> None:
    customer = new_customer(table)

    with pytest.raises(PreconditionFailedError) as raised:
        table.store.update_customer(customer.id, CustomerPatch(name="X"), expected_version=customer.version - 1)
    with pytest.raises(PreconditionFailedError):
        table.store.delete_customer(customer.id, expected_version=customer.version + 1)

    assert raised.value.details["current_version"] == customer.version
    assert table.store.get_customer(customer.id) == customer


def test_of_concurrent_updates_at_one_version_exactly_one_wins(table: StoreUnderTest) -> None:
    customer = new_customer(table)
    start = threading.Barrier(8)

    def rename(number: int) -> Customer | PreconditionFailedError:
        start.wait()
        try:
            return table.store.update_customer(customer.id, CustomerPatch(name=f"n{number}"), customer.version)
        except PreconditionFailedError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(rename, range(8)))

    winners = [outcome for outcome in outcomes if isinstance(outcome, Customer)]
    assert len(winners) == 1
    assert table.store.get_customer(customer.id) == winners[0]


def test_concurrent_updates_without_if_match_never_lose_a_write_silently(table: StoreUnderTest) -> None:
    customer = new_customer(table)
    stores = [table.another_store() for _ in range(6)]
    start = threading.Barrier(len(stores))

    def rename(number: int) -> list[Customer | ConflictError]:
        start.wait()
        outcomes: list[Customer | ConflictError] = []
        for attempt in range(4):
            try:
                outcomes.append(stores[number].update_customer(customer.id, CustomerPatch(name=f"n{number}-{attempt}")))
            except ConflictError as exc:
                outcomes.append(exc)
        return outcomes

    with ThreadPoolExecutor(len(stores)) as pool:
        outcomes = [outcome for thread in pool.map(rename, range(len(stores))) for outcome in thread]

    successes = [outcome for outcome in outcomes if isinstance(outcome, Customer)]
    conflicts = {outcome.code for outcome in outcomes if isinstance(outcome, ConflictError)}
    assert conflicts <= {"version_conflict"}
    versions = [success.version for success in successes]
    assert len(set(versions)) == len(versions)  # no two writes were accepted at one version
    assert table.store.get_customer(customer.id) == max(successes, key=lambda c: c.version)


def test_emails_are_unique_whatever_their_case(table: StoreUnderTest) -> None:
    email = unique_email("alan")
    table.store.create_customer(CustomerCreate(email=email, name="Alan"))

    with pytest.raises(ConflictError) as raised:
        table.store.create_customer(CustomerCreate(email=email.upper(), name="Other Alan"))

    assert raised.value.code == "email_taken"
    assert raised.value.details == {"email": email.upper()}


def test_of_twenty_concurrent_creates_with_one_email_exactly_one_succeeds(table: StoreUnderTest) -> None:
    email = unique_email("race")
    stores = [table.another_store() for _ in range(20)]
    start = threading.Barrier(20)

    def create(number: int) -> Customer | ConflictError:
        start.wait()
        try:
            return stores[number].create_customer(CustomerCreate(email=email, name=f"racer {number}"))
        except ConflictError as exc:
            return exc

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(create, range(20)))

    winners = [outcome for outcome in outcomes if isinstance(outcome, Customer)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, ConflictError)]
    assert len(winners) == 1
    assert [loser.code for loser in losers] == ["email_taken"] * 19
    guard = table.client("dynamodb").get_item(
        TableName=table.table_name, Key={"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "GUARD"}}, ConsistentRead=True
    )["Item"]
    assert guard["owner"] == {"S": winners[0].id}
    holders = table.client("dynamodb").scan(
        TableName=table.table_name,
        FilterExpression="email = :email",
        ExpressionAttributeValues={":email": {"S": email}},
    )["Items"]
    assert [holder["id"]["S"] for holder in holders] == [winners[0].id]  # the losers left nothing behind


def test_an_email_change_takes_the_new_email_and_releases_the_old_one(table: StoreUnderTest) -> None:
    old_email, new_email = unique_email("old"), unique_email("new")
    first = table.store.create_customer(CustomerCreate(email=old_email, name="First"))

    moved = table.store.update_customer(first.id, CustomerPatch(email=new_email), expected_version=first.version)
    second = table.store.create_customer(CustomerCreate(email=old_email, name="Second"))

    assert moved.email == new_email
    assert moved.version > first.version
    assert second.email == old_email
    with pytest.raises(ConflictError) as raised:
        table.store.create_customer(CustomerCreate(email=new_email, name="Third"))
    assert raised.value.code == "email_taken"
    with pytest.raises(ConflictError) as taken:
        table.store.update_customer(second.id, CustomerPatch(email=new_email.upper()))
    assert taken.value.code == "email_taken"
    assert table.store.get_customer(second.id) == second


def test_changing_only_the_case_of_an_email_keeps_it(table: StoreUnderTest) -> None:
    customer = new_customer(table)

    updated = table.store.update_customer(customer.id, CustomerPatch(email=customer.email.upper()))

    assert updated.email == customer.email.upper()
    with pytest.raises(ConflictError):
        table.store.create_customer(CustomerCreate(email=customer.email, name="Copycat"))


def test_a_deleted_customer_is_a_tombstone_that_the_pipeline_reads_as_a_delete(table: StoreUnderTest) -> None:
    customer = new_customer(table)

    tombstone_version = table.store.delete_customer(customer.id)

    item = table.raw_item(f"CUSTOMER#{customer.id}")
    assert item is not None
    assert item["deleted"] == {"BOOL": True}
    assert int(item["version"]["N"]) == tombstone_version > customer.version
    expires = datetime.fromtimestamp(int(item["expires_at"]["N"]), tz=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert not {"gsi1pk", "gsi1sk", "email", "name"} & set(item)
    changes = table.changes_of(f"CUSTOMER#{customer.id}")
    assert [(change.op, change.version) for change in changes] == [
        (Op.UPSERT, customer.version),
        (Op.DELETE, tombstone_version),
    ]


def test_a_deleted_customer_can_be_neither_read_nor_written_and_frees_its_email(table: StoreUnderTest) -> None:
    customer = new_customer(table)
    table.store.delete_customer(customer.id)

    with pytest.raises(NotFoundError):
        table.store.update_customer(customer.id, CustomerPatch(name="Ghost"))
    with pytest.raises(NotFoundError):
        table.store.delete_customer(customer.id)
    again = table.store.create_customer(CustomerCreate(email=customer.email, name="Again"))

    assert again.id != customer.id
    assert again.version > customer.version


@pytest.mark.parametrize("customer_id", ["c_00000000000000000000", "not-an-id", "", "c_" + "f" * 200])
def test_an_unknown_or_malformed_id_is_not_found(table: StoreUnderTest, customer_id: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        table.store.get_customer(customer_id)

    assert raised.value.code == "not_found"


def test_customers_are_listed_oldest_first_across_pages_without_the_deleted(moto_endpoint: str) -> None:
    with provisioned_store(moto_endpoint, "customer-list") as fresh:
        created = [new_customer(fresh, f"c{number}") for number in range(7)]
        fresh.store.delete_customer(created[3].id)

        pages = []
        cursor = None
        while True:
            page = fresh.store.list_customers(limit=2, cursor=cursor)
            pages.append([customer.id for customer in page.items])
            cursor = page.next_cursor
            if cursor is None:
                break

    expected = [customer.id for customer in created if customer.id != created[3].id]
    assert pages == [expected[0:2], expected[2:4], expected[4:6]]
