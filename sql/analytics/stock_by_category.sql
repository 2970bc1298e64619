-- Stock by category: for each product category, how many live products it has, the units they hold in stock
-- and what that stock is worth at today's prices (SUM(price * stock)).
-- Reads: v_products (deleted products are hidden).
SELECT
    category,
    COUNT(*) AS products,
    COALESCE(SUM(stock), 0) AS units_in_stock,
    COALESCE(SUM(price * stock), 0) AS stock_value
FROM v_products
GROUP BY category
ORDER BY category;
