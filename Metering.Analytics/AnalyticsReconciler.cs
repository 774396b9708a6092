using System.Globalization;
using Metering.Ledger.Reconcile;
using Npgsql;

namespace Metering.Analytics;

/// <summary>
/// Compares PostgreSQL <c>billing_period_totals</c> (quantity, record_count, amount per account, sku, period) with
/// the ClickHouse sums of <c>usage_windows</c> (read with FINAL) for one period, exactly (decimals, no tolerance).
/// <para>
/// Consistency: the ledger side is read in one REPEATABLE READ snapshot, together with the outbox rows of the period
/// not yet marked exported. Those in-flight rows are added to the ClickHouse side unless ClickHouse already has their
/// id (a batch inserted but not yet marked), so an export running meanwhile or a crash between insert and mark is no
/// drift. ClickHouse is then read up to the snapshot's highest outbox id. A flush that commits a lower id after the
/// snapshot and is exported before the ClickHouse read can show a transient drift; re-run (or reconcile a period
/// that no longer receives usage, the usual case) to confirm.
/// </para>
/// </summary>
public sealed class AnalyticsReconciler
{
    /// <summary>Most in-flight outbox rows the reconciler looks up in ClickHouse; more means: export first.</summary>
    public const int MaxInFlight = 200_000;

    private readonly NpgsqlDataSource _ledger;
    private readonly IAnalyticsTransport _transport;
    private readonly AnalyticsSchema _schema;

    /// <summary>Creates the reconciler.</summary>
    public AnalyticsReconciler(NpgsqlDataSource ledger, IAnalyticsTransport transport, AnalyticsSchema schema)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(schema);
        _ledger = ledger;
        _transport = transport;
        _schema = schema;
    }

    private sealed record Sums(decimal Quantity, decimal RecordCount, decimal Amount);

    /// <summary>Reconciles the period that starts at <paramref name="periodStart"/>.</summary>
    public async Task<ReconcileReport> ReconcileAsync(DateTimeOffset periodStart, CancellationToken cancellationToken)
    {
        // The ledger side in one REPEATABLE READ snapshot (totals, highest outbox id, in-flight rows agree).
        var snapshot = await ReconcileSnapshotQuery.ReadAsync(_ledger, periodStart, MaxInFlight + 1, cancellationToken).ConfigureAwait(false);
        var ledger = new Dictionary<(string, string), Sums>();
        foreach (var t in snapshot.Totals)
        {
            ledger[(t.Account, t.Sku)] = new Sums(t.Quantity, t.RecordCount, t.Amount);
        }

        var inFlight = snapshot.InFlight.Select(f => (f.Id, f.Account, f.Sku, Values: new Sums(f.Quantity, f.RecordCount, f.Amount))).ToList();
        var maxId = snapshot.MaxOutboxId;
        if (inFlight.Count > MaxInFlight)
        {
            throw new InvalidOperationException($"more than {MaxInFlight:N0} outbox rows of period {periodStart:yyyy-MM-dd} are not exported yet; run 'metering export' first");
        }

        var periodMs = periodStart.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var analytics = new Dictionary<(string, string), Sums>();
        var rows = await _transport.QueryAsync(
            $"""
            SELECT account, sku, toString(sum(quantity)), toString(sum(record_count)), toString(sum(amount))
            FROM {_schema.UsageWindows} FINAL
            WHERE period_start = fromUnixTimestamp64Milli({"{period_ms:Int64}"}, 'UTC') AND id <= {"{max_id:UInt64}"}
            GROUP BY account, sku
            """,
            [new("period_ms", periodMs), new("max_id", maxId.ToString(CultureInfo.InvariantCulture))],
            cancellationToken).ConfigureAwait(false);
        foreach (var r in rows)
        {
            analytics[(r[0]!, r[1]!)] = new Sums(Dec(r[2]), Dec(r[3]), Dec(r[4]));
        }

        var analyticsKeys = analytics.Count;
        var counted = 0;
        if (inFlight.Count > 0)
        {
            // Which in-flight ids ClickHouse already has, asked in chunks (over HTTP the ids travel in the URL).
            var present = new HashSet<long>();
            foreach (var chunk in inFlight.Chunk(10_000))
            {
                var ids = "[" + string.Join(",", chunk.Select(f => f.Id.ToString(CultureInfo.InvariantCulture))) + "]";
                foreach (var r in await _transport.QueryAsync($"SELECT DISTINCT id FROM {_schema.UsageWindows} WHERE has({{ids:Array(UInt64)}}, id)", [new("ids", ids)], cancellationToken).ConfigureAwait(false))
                {
                    present.Add(long.Parse(r[0]!, CultureInfo.InvariantCulture));
                }
            }

            foreach (var f in inFlight.Where(f => !present.Contains(f.Id)))
            {
                var key = (f.Account, f.Sku);
                var s = analytics.GetValueOrDefault(key) ?? new Sums(0, 0, 0);
                analytics[key] = new Sums(s.Quantity + f.Values.Quantity, s.RecordCount + f.Values.RecordCount, s.Amount + f.Values.Amount);
                counted++;
            }
        }

        var drifts = new List<ReconcileDrift>();
        foreach (var (key, l) in ledger.OrderBy(k => k.Key.Item1, StringComparer.Ordinal).ThenBy(k => k.Key.Item2, StringComparer.Ordinal))
        {
            if (!analytics.TryGetValue(key, out var a))
            {
                drifts.Add(new ReconcileDrift(key.Item1, key.Item2, "row", l.Quantity, null));
                continue;
            }

            Compare(drifts, key, "quantity", l.Quantity, a.Quantity);
            Compare(drifts, key, "record_count", l.RecordCount, a.RecordCount);
            Compare(drifts, key, "amount", l.Amount, a.Amount);
        }

        foreach (var (key, a) in analytics.Where(a => !ledger.ContainsKey(a.Key)).OrderBy(k => k.Key.Item1, StringComparer.Ordinal).ThenBy(k => k.Key.Item2, StringComparer.Ordinal))
        {
            drifts.Add(new ReconcileDrift(key.Item1, key.Item2, "row", null, a.Quantity));
        }

        return new ReconcileReport(periodStart, ledger.Count, analyticsKeys, counted, drifts);
    }

    private static void Compare(List<ReconcileDrift> drifts, (string Account, string Sku) key, string field, decimal ledger, decimal analytics)
    {
        if (ledger != analytics)
        {
            drifts.Add(new ReconcileDrift(key.Account, key.Sku, field, ledger, analytics));
        }
    }

    private static decimal Dec(string? s) =>
        decimal.Parse(s ?? throw new ClickHouseException("reconcile: NULL sum from ClickHouse"), NumberStyles.Number, CultureInfo.InvariantCulture);
}
