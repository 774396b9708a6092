using Metering.Analytics;
using Metering.Ledger.Totals;
using Npgsql;

namespace Metering.Cli.Hosting;

/// <summary>
/// A continuous analytics export inside a long-running process (<c>metering export --follow</c>, or <c>metering serve</c>
/// when it owns the embedded chDB directory): export passes every interval and, when asked, a reconcile round of the
/// latest periods every <c>reconcileEvery</c>, whose drifts go to <c>metering_reconcile_drifts</c>. Readiness: the
/// last pass succeeded.
/// </summary>
public sealed class ExportHost
{
    private readonly NpgsqlDataSource _db;
    private readonly IAnalyticsTransport _transport;
    private readonly AnalyticsSchema _schema;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _reconcileEvery;
    private readonly int _reconcilePeriods;
    private readonly TextWriter _log;

    /// <summary>Creates the host; <paramref name="reconcileEvery"/> zero = no reconcile rounds.</summary>
    public ExportHost(NpgsqlDataSource db, IAnalyticsTransport transport, AnalyticsSchema schema, int batch, TimeSpan interval, TimeSpan reconcileEvery, int reconcilePeriods, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(reconcileEvery, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(reconcilePeriods, 1);
        _db = db;
        _transport = transport;
        _schema = schema;
        _interval = interval;
        _reconcileEvery = reconcileEvery;
        _reconcilePeriods = reconcilePeriods;
        _log = log;
        Exporter = new AnalyticsExporter(db, transport, schema, batch);
    }

    /// <summary>The exporter the host runs.</summary>
    public AnalyticsExporter Exporter { get; }

    /// <summary>Reconcile rounds completed.</summary>
    public long ReconcileRounds { get; private set; }

    /// <summary>For <c>/readyz</c>: ready once a pass succeeded and while the last one did.</summary>
    public (bool Ready, string Detail) Readiness => Exporter.LastError is { } error
        ? (false, "the last export pass failed: " + error)
        : Exporter.LastSuccess is null ? (false, "no export pass has completed yet") : (true, "ok");

    /// <summary>Runs until cancelled; failures are logged and retried (rows wait in the outbox), never thrown.</summary>
    public Task RunAsync(CancellationToken cancellationToken) => _reconcileEvery == TimeSpan.Zero
        ? Exporter.RunAsync(_interval, cancellationToken, _log)
        : Task.WhenAll(Exporter.RunAsync(_interval, cancellationToken, _log), ReconcileLoopAsync(cancellationToken));

    /// <summary>One reconcile round over the latest <c>reconcilePeriods</c> periods the ledger holds; returns the drifts.</summary>
    public async Task<int> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        var periods = await BillingTotalsQuery.PeriodStartsAsync(_db, cancellationToken).ConfigureAwait(false);
        var reconciler = new AnalyticsReconciler(_db, _transport, _schema);
        var drifts = 0;
        for (var i = Math.Max(0, periods.Count - _reconcilePeriods); i < periods.Count; i++)
        {
            var report = await reconciler.ReconcileAsync(periods[i], cancellationToken).ConfigureAwait(false);
            drifts += report.Drifts.Count;
            foreach (var drift in report.Drifts.Take(5))
            {
                _log.WriteLine($"reconcile: DRIFT {periods[i]:yyyy-MM-dd} {drift}");
            }
        }

        ReconcileRounds++;
        AnalyticsMetrics.ReconcileRoundCompleted(_schema.Database, DateTimeOffset.UtcNow, drifts);
        return drifts;
    }

    private async Task ReconcileLoopAsync(CancellationToken cancellationToken)
    {
        // The first round waits one period: right after start the first export pass is still moving the backlog.
        using var timer = new PeriodicTimer(_reconcileEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var drifts = await ReconcileOnceAsync(cancellationToken).ConfigureAwait(false);
                    if (drifts > 0)
                    {
                        _log.WriteLine($"reconcile: {drifts} drift(s) in the latest {_reconcilePeriods} period(s); re-run `metering reconcile --period ...` to confirm (a flush racing the round shows a transient one)");
                    }
                }
                catch (Exception e) when (e is ClickHouseException or NpgsqlException or TimeoutException or InvalidOperationException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    _log.WriteLine($"reconcile: round failed, retrying in {_reconcileEvery}: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
    }
}
