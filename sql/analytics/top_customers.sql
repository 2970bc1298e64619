-- Top customers: the 10 live customers with the most revenue, with their name, email, how many live orders
-- they placed and the revenue those orders brought.
-- Reads: v_customers and v_orders (deleted customers and orders are hidden: a deleted customer's orders live
-- on in v_orders but no longer count for anyone here).
-- Revenue is SUM(total) over PAID and SHIPPED orders, as in revenue_per_day.sql; customers without any
-- are left out. Ties are broken by customer id, so the list is the same on every run.
SELECT
    c.id AS customer_id,
    c.name,
    c.email,
    COUNT(*) AS orders,
    SUM(CASE WHEN o.status IN ('PAID', 'SHIPPED') THEN o.total ELSE 0 END) AS revenue
FROM v_customers AS c
INNER JOIN v_orders AS o ON o.customer_id = c.id
GROUP BY c.id, c.name, c.email
HAVING SUM(CASE WHEN o.status IN ('PAID', 'SHIPPED') THEN o.total ELSE 0 END) > 0
ORDER BY revenue DESC, c.id
LIMIT 10;
