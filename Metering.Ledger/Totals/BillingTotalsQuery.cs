using Npgsql;

namespace Metering.Ledger.Totals;

/// <summary>Ledger-wide reads of <c>billing_period_totals</c> for reports (the main job's summary, reconciling every period).</summary>
public static class BillingTotalsQuery
{
    /// <summary>The start of every billing period that holds a total, ascending, as UTC instants.</summary>
    public static async Task<IReadOnlyList<DateTimeOffset>> PeriodStartsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var periods = new List<DateTimeOffset>();
        await using var cmd = db.CreateCommand("SELECT DISTINCT period_start FROM billing_period_totals ORDER BY 1");
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            periods.Add(new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc)));
        }

        return periods;
    }

    /// <summary>One line per SKU, in <c>ORDER BY sku</c> order (the database collation): its totals over every account and period.</summary>
    public static async Task<IReadOnlyList<SkuTotal>> BySkuAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var lines = new List<SkuTotal>();
        await using var cmd = db.CreateCommand("SELECT sku, sum(record_count)::bigint, sum(quantity), sum(amount), min(currency) FROM billing_period_totals GROUP BY sku ORDER BY sku");
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            lines.Add(new SkuTotal(reader.GetString(0), reader.GetInt64(1), reader.GetDecimal(2), reader.GetDecimal(3), reader.GetString(4)));
        }

        return lines;
    }
}
