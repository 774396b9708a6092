using Npgsql;

namespace Metering.Ledger.Totals;

/// <summary>Reads of the committed running totals in <c>billing_period_totals</c>.</summary>
public static class TotalsQuery
{
    /// <summary>The totals of <paramref name="account"/> in the period starting at <paramref name="periodStart"/>, one per SKU (its dimension groups summed), ordered by SKU; empty when there are none.</summary>
    public static async Task<IReadOnlyList<SkuTotal>> OfAccountPeriodAsync(NpgsqlDataSource db, string account, DateTimeOffset periodStart, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var totals = new List<SkuTotal>();
        await using var cmd = db.CreateCommand("SELECT t.sku, sum(t.record_count)::bigint, sum(coalesce(m.quantity, t.quantity)), sum(t.amount), trim(min(t.currency)) FROM billing_period_totals t LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from WHERE t.account = $1 AND t.period_start = $2 GROUP BY t.sku ORDER BY t.sku");
        cmd.Parameters.Add(new NpgsqlParameter { Value = account });
        cmd.Parameters.Add(new NpgsqlParameter { Value = periodStart });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            totals.Add(new SkuTotal(r.GetString(0), r.GetInt64(1), r.GetDecimal(2), r.GetDecimal(3), r.GetString(4)));
        }

        return totals;
    }

    /// <summary>Every total of every period not closed yet, in no particular order (what the live counters are rebuilt from).</summary>
    public static async Task<IReadOnlyList<OpenPeriodTotal>> OpenPeriodsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var totals = new List<OpenPeriodTotal>();
        await using var cmd = db.CreateCommand("SELECT account, sku, period_start, min(period_end), sum(record_count)::bigint, sum(quantity), sum(amount), min(currency) FROM billing_period_totals WHERE NOT closed GROUP BY account, sku, period_start");
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            totals.Add(new OpenPeriodTotal(reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero), new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero),
                reader.GetInt64(4), reader.GetDecimal(5), reader.GetDecimal(6), reader.GetString(7)));
        }

        return totals;
    }
}
