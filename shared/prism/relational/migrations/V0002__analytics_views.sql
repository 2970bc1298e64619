-- What analysts query: the live entities, tombstones hidden. The lines of a deleted order (and lines whose
-- order row is missing) are hidden too. `item` stays available for JSON_VALUE / JSON_EXTRACT queries.

CREATE OR REPLACE VIEW v_customers AS
SELECT id, email, name, tier, created_at, updated_at, version, item
FROM customers
WHERE deleted = 0;

CREATE OR REPLACE VIEW v_products AS
SELECT id, id AS sku, name, category, price, stock, created_at, updated_at, version, item
FROM products
WHERE deleted = 0;

CREATE OR REPLACE VIEW v_orders AS
SELECT id, customer_id, status, total, line_count, created_at, updated_at, version, item
FROM orders
WHERE deleted = 0;

CREATE OR REPLACE VIEW v_order_lines AS
SELECT
    l.order_id,
    l.line_no,
    l.sku,
    l.qty,
    l.unit_price,
    l.qty * l.unit_price AS amount,
    o.customer_id,
    o.status AS order_status,
    o.created_at AS order_created_at
FROM order_lines AS l
INNER JOIN orders AS o ON o.id = l.order_id
WHERE o.deleted = 0;
