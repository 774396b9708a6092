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
        await using var cmd = db.CreateCommand("SELECT sku, sum(record_count)::bigint, sum(quantity), sum(amount), trim(min(currency)) FROM billing_period_totals WHERE account = $1 AND period_start = $2 GROUP BY sku ORDER BY sku");
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
