SELECT account, sku, toStartOfHour(t) AS window_start, count() AS count, sum(q) AS quantity, min(q) AS min, max(q) AS max,
       min(t) AS first_time, max(t) AS last_time
FROM (SELECT id, any(account) AS account, any(sku) AS sku, any(quantity) AS q, any(time) AS t
      FROM file('INPUT', JSONEachRow, 'id String, account String, sku String, quantity Decimal(38, 9), time DateTime64(3, ''UTC'')')
      GROUP BY id)
GROUP BY account, sku, window_start
ORDER BY account, sku, window_start
