-- Revenue per day: for each UTC day on which orders were created, how many orders were placed, how many
-- of them count as revenue, and that revenue.
-- Reads: v_orders (live orders only; deleted orders are tombstones the view hides).
-- Revenue is SUM(total) over PAID and SHIPPED orders: the money has been taken. A PENDING order is not paid
-- yet and a CANCELLED one never will be, so neither counts (order statuses: prism.domain.models.OrderStatus).
-- `orders` counts every live order of the day, whatever its status. created_at is stored in UTC.
SELECT
    DATE(created_at) AS day,
    COUNT(*) AS orders,
    SUM(CASE WHEN status IN ('PAID', 'SHIPPED') THEN 1 ELSE 0 END) AS paid_orders,
    SUM(CASE WHEN status IN ('PAID', 'SHIPPED') THEN total ELSE 0 END) AS revenue
FROM v_orders
GROUP BY DATE(created_at)
ORDER BY day;
