-- The projection of the DynamoDB table (docs/data-model.md): one row per entity, tombstones included.
--
-- Typed columns hold what analysts filter, join and index on; `item` holds the full item as JSON (MySQL's
-- JSON type; in MariaDB an alias of LONGTEXT with a JSON_VALID check). `version` is the entity's version
-- (the sink's upserts keep the row with the highest one); `deleted` = 1 marks a tombstone, kept so a late,
-- older change cannot bring the row back. Data columns are nullable because a tombstone carries no data.
-- Ids are compared byte for byte (utf8mb4_bin), as DynamoDB compares its keys: skus `ab` and `AB` differ.
-- Timestamps are UTC. Every statement is idempotent, so a file that failed half way can simply run again.

CREATE TABLE IF NOT EXISTS customers (
    id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    email VARCHAR(254) NULL,
    name VARCHAR(200) NULL,
    tier VARCHAR(16) NULL,
    created_at DATETIME(6) NULL,
    updated_at DATETIME(6) NULL,
    item JSON NOT NULL,
    version BIGINT UNSIGNED NOT NULL,
    deleted TINYINT(1) NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    -- Not unique: changes to different customers arrive in any order, so an email can pass from one
    -- customer to another in the table before the first customer's change lands.
    KEY customers_email (email)
) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS products (
    id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    name VARCHAR(200) NULL,
    category VARCHAR(64) NULL,
    price DECIMAL(12, 2) NULL,
    stock INT UNSIGNED NULL,
    created_at DATETIME(6) NULL,
    updated_at DATETIME(6) NULL,
    item JSON NOT NULL,
    version BIGINT UNSIGNED NOT NULL,
    deleted TINYINT(1) NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY products_category (category)
) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- `total` is wider than a price: up to 100 lines of 10,000 units at 9,999,999,999.99 each.
CREATE TABLE IF NOT EXISTS orders (
    id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    customer_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    status VARCHAR(16) NULL,
    total DECIMAL(22, 2) NULL,
    line_count SMALLINT UNSIGNED NULL,
    created_at DATETIME(6) NULL,
    updated_at DATETIME(6) NULL,
    item JSON NOT NULL,
    version BIGINT UNSIGNED NOT NULL,
    deleted TINYINT(1) NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY orders_customer_created (customer_id, created_at),
    KEY orders_created (created_at)
) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- An order's lines, numbered from 1 in the order's own order. `order_version` is the version of the order
-- they belong to: the sink replaces all of an order's lines together with a newer order version, so a
-- stale order change never mixes its lines into a newer order.
CREATE TABLE IF NOT EXISTS order_lines (
    order_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    line_no SMALLINT UNSIGNED NOT NULL,
    sku VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    qty INT UNSIGNED NOT NULL,
    unit_price DECIMAL(12, 2) NOT NULL,
    order_version BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id, line_no),
    KEY order_lines_sku (sku)
) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
