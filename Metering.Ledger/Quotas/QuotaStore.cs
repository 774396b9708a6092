using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.Quotas;

/// <summary>
/// The <c>quotas</c> table: operators' quotas (<c>metering quota set</c>, source 'api') and the quotas configured in
/// price books (source 'pricebook', replaced by <see cref="SyncPriceBookQuotasAsync"/> at engine start).
/// A quota is identified by (account, sku, metric, currency, threshold): setting it again only touches updated_at.
/// </summary>
public static class QuotaStore
{
    /// <summary>
    /// Creates the quota (or finds the identical one); returns its id. Checks the shape first: a quantity quota needs a
    /// SKU and no currency, an amount quota a currency and no SKU, and the threshold must be above zero and inside
    /// <see cref="LedgerDecimal"/>'s range (an <see cref="ArgumentOutOfRangeException"/> naming the range otherwise).
    /// An amount quota in another currency than the account's stored billing currency is refused
    /// (<see cref="QuotaCurrencyMismatchException"/>): nothing would ever be compared with it. An account without a row
    /// has no stored currency; its quota is checked when listed (<see cref="Quota.CurrencyMismatch"/>).
    /// </summary>
    public static async Task<long> SetAsync(NpgsqlDataSource db, string account, string? sku, QuotaMetric metric, decimal threshold, string? currency,
        CancellationToken cancellationToken, string source = "api")
    {
        ArgumentNullException.ThrowIfNull(db);
        Check(account, sku, metric, threshold, currency);
        if (metric == QuotaMetric.Amount)
        {
            await using var billed = db.CreateCommand("SELECT currency FROM accounts WHERE account = $1");
            billed.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            if (await billed.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string stored && stored.Trim() != currency)
            {
                throw new QuotaCurrencyMismatchException(account, currency!, stored.Trim());
            }
        }

        await using var cmd = db.CreateCommand("""
            INSERT INTO quotas AS q (account, sku, metric, threshold, currency, source) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (account, coalesce(sku, ''), metric, coalesce(currency, ''), threshold) DO UPDATE SET updated_at = now()
            RETURNING q.id
            """);
        AddQuotaParameters(cmd, account, sku, metric, threshold, currency);
        cmd.Parameters.Add(new() { Value = source });
        var id = (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        QuotaEvaluator.Invalidate();
        return id;
    }

    /// <summary>Deletes a quota by id; returns false when there is none. Its alerts stay.</summary>
    public static async Task<bool> RemoveAsync(NpgsqlDataSource db, long id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("DELETE FROM quotas WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        var removed = await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        QuotaEvaluator.Invalidate();
        return removed;
    }

    /// <summary>Every quota, optionally of one account, ordered by account, metric, sku/currency, threshold.</summary>
    public static async Task<IReadOnlyList<Quota>> ListAsync(NpgsqlDataSource db, string? account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        // A threshold outside the range is not read as a decimal (Npgsql cannot read every numeric(38,9) into one): it
        // comes back as text, so one bad row cannot make listing or removing quotas fail.
        await using var cmd = db.CreateCommand("""
            SELECT q.id, q.account, q.sku, q.metric, CASE WHEN abs(q.threshold) < $2 THEN q.threshold END, q.currency, q.source, q.updated_at,
                   CASE WHEN abs(q.threshold) < $2 THEN NULL ELSE q.threshold::text END, a.currency
            FROM quotas q LEFT JOIN accounts a ON a.account = q.account
            WHERE $1::text IS NULL OR q.account = $1
            ORDER BY q.account, q.metric, q.sku NULLS FIRST, q.currency NULLS FIRST, q.threshold, q.id
            """);
        cmd.Parameters.Add(new() { Value = (object?)account ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = LedgerDecimal.Limit });
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<Quota>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new Quota(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3) == "amount" ? QuotaMetric.Amount : QuotaMetric.Quantity, reader.IsDBNull(4) ? 0 : reader.GetDecimal(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), new DateTimeOffset(reader.GetDateTime(7), TimeSpan.Zero),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetString(9).Trim()));
        }

        return list;
    }

    /// <summary>
    /// Makes the 'pricebook' quotas equal to the quotas of <paramref name="prices"/> (list and contract books), in one
    /// transaction: missing ones are inserted, ones no book defines any more are deleted; 'api' quotas are untouched
    /// (a price-book quota identical to an existing 'api' quota is not duplicated). Returns (inserted, deleted).
    /// </summary>
    public static async Task<(int Inserted, int Deleted)> SyncPriceBookQuotasAsync(NpgsqlDataSource db, PriceCatalog? prices, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var quotas = new List<PriceBookQuota>();
        if (prices?.List is { } list)
        {
            quotas.AddRange(list.Quotas);
        }

        if (prices is not null)
        {
            quotas.AddRange(prices.Contracts.SelectMany(c => c.Quotas));
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int deleted;
        await using (var delete = new NpgsqlCommand("""
            DELETE FROM quotas q WHERE q.source = 'pricebook' AND NOT EXISTS (
              SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[]) AS b(account, sku, metric, threshold, currency)
              WHERE b.account = q.account AND b.sku IS NOT DISTINCT FROM q.sku AND b.metric = q.metric
                AND b.threshold = q.threshold AND b.currency IS NOT DISTINCT FROM q.currency::text)
            """, connection, tx))
        {
            AddArrays(delete, quotas);
            deleted = await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int inserted;
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO quotas (account, sku, metric, threshold, currency, source)
            SELECT account, sku, metric, threshold, currency, 'pricebook'
            FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[]) AS b(account, sku, metric, threshold, currency)
            ON CONFLICT (account, coalesce(sku, ''), metric, coalesce(currency, ''), threshold) DO NOTHING
            """, connection, tx))
        {
            AddArrays(insert, quotas);
            inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        QuotaEvaluator.Invalidate();
        return (inserted, deleted);
    }

    /// <summary>The metric's name in the table and on the command line.</summary>
    public static string MetricName(QuotaMetric metric) => metric == QuotaMetric.Amount ? "amount" : "quantity";

    private static void Check(string account, string? sku, QuotaMetric metric, decimal threshold, string? currency)
    {
        ArgumentException.ThrowIfNullOrEmpty(account);
        if (threshold <= 0 || !LedgerDecimal.Fits(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"a quota's threshold must be above 0 and {LedgerDecimal.RangeText}");
        }

        if (metric == QuotaMetric.Quantity && (string.IsNullOrEmpty(sku) || currency is not null))
        {
            throw new ArgumentException("a quantity quota limits one SKU: give a SKU and no currency", nameof(sku));
        }

        if (metric == QuotaMetric.Amount && (sku is not null || currency is not { Length: 3 }))
        {
            throw new ArgumentException("an amount quota sums all the account's SKUs in one currency: give a 3-letter currency and no SKU", nameof(currency));
        }
    }

    private static void AddQuotaParameters(NpgsqlCommand cmd, string account, string? sku, QuotaMetric metric, decimal threshold, string? currency)
    {
        cmd.Parameters.Add(new() { Value = account });
        cmd.Parameters.Add(new() { Value = (object?)sku ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = MetricName(metric) });
        cmd.Parameters.Add(new() { Value = threshold });
        cmd.Parameters.Add(new() { Value = (object?)currency ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Char });
    }

    private static void AddArrays(NpgsqlCommand cmd, List<PriceBookQuota> quotas)
    {
        cmd.Parameters.Add(new() { Value = quotas.Select(q => q.Account).ToArray() });
        cmd.Parameters.Add(new() { Value = quotas.Select(q => q.Sku).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = quotas.Select(q => MetricName(q.Metric)).ToArray() });
        cmd.Parameters.Add(new() { Value = quotas.Select(q => q.Threshold).ToArray() });
        cmd.Parameters.Add(new() { Value = quotas.Select(q => q.Currency).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
    }
}
