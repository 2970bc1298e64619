"""The API's models (pydantic v2), separate from the storage models in ``prism.store``.

Inputs (``*Create``, ``*Patch``) forbid unknown fields and bound every string and list, so a bad request
fails validation with a message that names the field. Outputs carry the server's fields: ids, timestamps
(UTC, ISO 8601) and ``version``, which the API exposes as the ETag. Money is exact; see ``prism.domain.money``.
"""

from __future__ import annotations

import re
from datetime import datetime  # noqa: TC003  (pydantic resolves field types at run time)
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    computed_field,
    model_validator,
)

from prism.domain.ids import CUSTOMER_ID_PATTERN, SKU_PATTERN
from prism.domain.money import Money  # noqa: TC001  (pydantic resolves field types at run time)

MAX_ORDER_LINES: Final = 100
MAX_LINE_QUANTITY: Final = 10_000
MAX_STOCK: Final = 1_000_000_000
MAX_TAGS: Final = 20

_INPUT: Final = ConfigDict(extra="forbid", frozen=True)
_OUTPUT: Final = ConfigDict(frozen=True)

# Deliberately simple (no quoted local parts, no IP literals): what people type into a sign-up form.
_EMAIL: Final = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_CATEGORY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as name@example.com")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _unique(values: list[str]) -> list[str]:
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"must not repeat a value (repeated: {', '.join(repeated)})")
    return values


# The validators give the messages; json_schema_extra states the same rules in the OpenAPI document, so
# clients (and the fuzzer) see what a valid request is.
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=254),
    AfterValidator(_email),
    Field(examples=["ada@example.com"], json_schema_extra={"pattern": _EMAIL.pattern}),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_not_blank),
    Field(json_schema_extra={"pattern": r"\S"}),
]
Description = Annotated[str, StringConstraints(max_length=2_000)]
Category = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_CATEGORY_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(_not_blank)]
Tags = Annotated[
    list[Tag], Field(max_length=MAX_TAGS, json_schema_extra={"uniqueItems": True}), AfterValidator(_unique)
]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN), Field(examples=["BOOK-0042"])]
CustomerId = Annotated[str, StringConstraints(pattern=CUSTOMER_ID_PATTERN)]
Stock = Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
Quantity = Annotated[StrictInt, Field(ge=1, le=MAX_LINE_QUANTITY)]
Version = Annotated[int, Field(ge=0, description="Grows with every write; the ETag of the entity.")]


class CustomerTier(StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"


class _Patch(BaseModel):
    """A partial update: fields left out keep their value; a field sent as null is an error, not a reset."""

    model_config = ConfigDict(**_INPUT, json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _sets_something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError(f"a patch must set at least one of: {', '.join(type(self).model_fields)}")
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; leave a field out to keep its value")
        return self


# ---------------------------------------------------------------- customers
class CustomerCreate(BaseModel):
    model_config = _INPUT

    email: Email
    name: Name
    tier: CustomerTier = CustomerTier.STANDARD


class CustomerPatch(_Patch):
    email: Email | None = None
    name: Name | None = None
    tier: CustomerTier | None = None


class Customer(BaseModel):
    model_config = _OUTPUT

    id: str
    email: str
    name: str
    tier: CustomerTier
    created_at: datetime
    updated_at: datetime
    version: Version


# ---------------------------------------------------------------- products
class ProductCreate(BaseModel):
    model_config = _INPUT

    sku: Sku = Field(description="Chosen by the client; the product's id.")
    name: Name
    description: Description = ""
    category: Category
    price: Money
    stock: Stock = 0
    tags: Tags = Field(default_factory=list)


class ProductPatch(_Patch):
    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    price: Money | None = None
    stock: Stock | None = None
    tags: Tags | None = None


class Product(BaseModel):
    model_config = _OUTPUT

    id: str = Field(description="The product's sku.")
    sku: str
    name: str
    description: str
    category: str
    price: Money
    stock: int
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: Version


# ---------------------------------------------------------------- orders
def _one_line_per_sku(lines: list[OrderLineInput]) -> list[OrderLineInput]:
    skus = [line.sku for line in lines]
    repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
    if repeated:
        raise ValueError(f"each sku may appear once per order; add up the quantities (repeated: {', '.join(repeated)})")
    return lines


class OrderLineInput(BaseModel):
    """What a client sends for a line; the unit price is the product's current price, set by the server."""

    model_config = _INPUT

    sku: Sku
    qty: Quantity


OrderLinesInput = Annotated[
    list[OrderLineInput], Field(min_length=1, max_length=MAX_ORDER_LINES), AfterValidator(_one_line_per_sku)
]


class OrderCreate(BaseModel):
    model_config = _INPUT

    customer_id: CustomerId
    lines: OrderLinesInput


class OrderPatch(_Patch):
    """A status change (by the state machine) and/or new lines (only while the order is PENDING)."""

    status: OrderStatus | None = None
    lines: OrderLinesInput | None = None


class OrderLine(BaseModel):
    model_config = _OUTPUT

    sku: str
    qty: int
    unit_price: Money

    @property
    def amount(self) -> Decimal:
        return self.qty * self.unit_price


def order_total(lines: list[OrderLine]) -> Decimal:
    """The exact sum of qty * unit_price, with two places."""
    return sum((line.amount for line in lines), start=Decimal("0.00"))


class Order(BaseModel):
    model_config = _OUTPUT

    id: str
    customer_id: str
    status: OrderStatus
    lines: list[OrderLine]
    created_at: datetime
    updated_at: datetime
    version: Version

    @computed_field(description="The sum of qty * unit_price over the lines, computed by the server.")  # type: ignore[prop-decorator]
    @property
    def total(self) -> Money:
        return order_total(self.lines)


# ---------------------------------------------------------------- listings
ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a listing. ``next_cursor`` is null on the last page; pass it back to get the next one."""

    model_config = _OUTPUT

    items: list[ItemT]
    next_cursor: str | None = None
