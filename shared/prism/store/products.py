"""Products in DynamoDB, keyed by the client's sku; listed by category through gsi1, or all through a Scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prism.domain.errors import ConflictError
from prism.domain.ids import is_sku
from prism.domain.models import Page, Product, ProductCreate, ProductPatch
from prism.domain.versions import StoredVersion, check_expected_version, version_after, version_for_create
from prism.store.items import ProductItem
from prism.store.keys import category_index_key, category_partition, product_key, products_listing
from prism.store.listings import SCAN_PAGE_SIZE, Listing, check_limit, page_of, start_position
from prism.store.mapping import apply_changes, product_from_item, tombstone_for
from prism.store.refusals import lost_race, not_found
from prism.store.table_access import WriteRefused, exclusive_start_key, put, read

if TYPE_CHECKING:
    from prism.domain.cursor import CursorCodec
    from prism.store.items import TableItems

ENTITY = "product"


def sku_taken(sku: str) -> ConflictError:
    return ConflictError(f"a product with sku {sku} already exists", code="sku_taken", details={"sku": sku})


class DynamoProducts:
    def __init__(self, items: TableItems, cursors: CursorCodec) -> None:
        self._items = items
        self._cursors = cursors

    def live_item(self, sku: str) -> ProductItem:
        """The product's item; NotFoundError when there is none or it was deleted."""
        item = read(self._items.product, product_key(sku)) if is_sku(sku) else None
        if item is None or item.is_tombstone:
            raise not_found(ENTITY, sku)
        return item

    def create(self, data: ProductCreate) -> Product:
        """Create the product at its sku; a deleted sku may be re-created, at a version above its tombstone."""
        key = product_key(data.sku)
        existing = read(self._items.product, key)
        stored = None if existing is None else StoredVersion(existing.version, existing.is_tombstone)
        version = version_for_create(stored, taken=sku_taken(data.sku))
        now = datetime.now(UTC)
        index = category_index_key(data.category, data.sku)
        item = self._items.product(
            pk=key.pk,
            sk=key.sk,
            entity=ENTITY,
            id=data.sku,
            version=version,
            created_at=now,
            updated_at=now,
            name=data.name,
            description=data.description,
            category=data.category,
            price=data.price,
            stock=data.stock,
            tags=list(data.tags),
            gsi1pk=index.gsi1pk,
            gsi1sk=index.gsi1sk,
        )
        # Only over what was read: nothing, or that very tombstone. Anything else is a concurrent create.
        condition = ProductItem.pk.does_not_exist() if stored is None else ProductItem.version == stored.version
        try:
            put(item, condition, ENTITY)
        except WriteRefused as exc:
            raise sku_taken(data.sku) from exc
        return product_from_item(item)

    def get(self, sku: str) -> Product:
        return product_from_item(self.live_item(sku))

    def update(self, sku: str, patch: ProductPatch, expected_version: int | None) -> Product:
        item = self.live_item(sku)
        check_expected_version(f"{ENTITY} {sku}", item.version, expected_version)
        read_version = item.version
        changes = {
            "name": patch.name,
            "description": patch.description,
            "category": patch.category,
            "price": patch.price,
            "stock": patch.stock,
            "tags": None if patch.tags is None else list(patch.tags),
        }
        if not apply_changes(item, changes):
            return product_from_item(item)
        item.gsi1pk = category_partition(item.category)
        item.version, item.updated_at = version_after(read_version), datetime.now(UTC)
        try:
            put(item, ProductItem.version == read_version, ENTITY)
        except WriteRefused as exc:
            raise lost_race(ENTITY, sku, expected_version) from exc
        return product_from_item(item)

    def delete(self, sku: str, expected_version: int | None) -> int:
        item = self.live_item(sku)
        check_expected_version(f"{ENTITY} {sku}", item.version, expected_version)
        tombstone = tombstone_for(self._items, item, version=version_after(item.version), now=datetime.now(UTC))
        try:
            put(tombstone, ProductItem.version == item.version, ENTITY)
        except WriteRefused as exc:
            raise lost_race(ENTITY, sku, expected_version) from exc
        return tombstone.version

    def list_page(self, category: str | None, limit: int, cursor: str | None) -> Page[Product]:
        """Products of one category by sku (gsi1), or, without a category, all products in Scan order."""
        check_limit(limit)
        model = self._items.product
        if category is None:
            listing = Listing.over_scan(products_listing(None))
            start = start_position(self._cursors, listing, cursor)
            results = model.scan(
                filter_condition=(ProductItem.entity == ENTITY) & ProductItem.deleted.does_not_exist(),
                page_size=SCAN_PAGE_SIZE,
                last_evaluated_key=exclusive_start_key(start),
            )
        else:
            listing = Listing.over_index(products_listing(category))
            start = start_position(self._cursors, listing, cursor)
            results = model.gsi1.query(
                category_partition(category), page_size=limit + 1, last_evaluated_key=exclusive_start_key(start)
            )
        return page_of(
            results,
            model,
            cursors=self._cursors,
            listing=listing,
            limit=limit,
            to_api=product_from_item,
            page_type=Page[Product],
        )
