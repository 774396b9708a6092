using Metering.Analytics;
using Metering.Cli.Arguments;
using Metering.Ledger.Totals;

namespace Metering.Cli.Commands;

/// <summary><c>metering reconcile --period P</c>: PostgreSQL billing totals against ClickHouse sums for one period.</summary>
public sealed class ReconcileCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["reconcile"];

    public string Summary => "compare PostgreSQL billing totals with ClickHouse sums for one billing period; every drift printed";

    public string Usage => "usage: metering reconcile --period P [--no-export] [analytics options] [ledger options]\n\n" +
        "  --period P                 the period's start: YYYY-MM-DD, or YYYY-MM for the period starting on the 1st (UTC)\n" +
        "  --no-export                compare as is; by default one export pass runs first so the outbox is drained\n" +
        AnalyticsArguments.Usage + LedgerArguments.Usage +
        "\nCompares quantity, record_count and amount per (account, sku) exactly; outbox rows not yet exported count on\n" +
        "the ClickHouse side. exit codes: 0 clean, 1 any drift (each printed), 2 usage error";


    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (ClickHouseException e)
        {
            Console.Error.WriteLine($"metering reconcile: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunCoreAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var period = args.RequiredPeriodStart("period");
        var export = !args.Has("no-export");
        args.RejectUnknown([.. LedgerArguments.Options, .. AnalyticsArguments.Options]);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var schema = AnalyticsArguments.Schema(args, db);
        using var transport = AnalyticsArguments.Transport(args);
        if (export)
        {
            var moved = await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(cancellationToken).ConfigureAwait(false);
            Console.Error.WriteLine($"reconcile: exported {moved.Rows:N0} outbox rows first");
        }
        else
        {
            await new AnalyticsExporter(db, transport, schema).EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        var report = await new AnalyticsReconciler(db, transport, schema).ReconcileAsync(period, cancellationToken).ConfigureAwait(false);
        foreach (var drift in report.Drifts)
        {
            Console.Out.WriteLine("DRIFT " + drift);
        }

        Console.Out.WriteLine(report.Drifts.Count == 0
            ? $"reconcile: clean: period {period:yyyy-MM-dd}, {report.LedgerKeys:N0} (account, sku) totals equal the ClickHouse sums ({report.InFlight:N0} outbox rows in flight)"
            : $"reconcile: {report.Drifts.Count} drift(s) in period {period:yyyy-MM-dd} ({report.LedgerKeys:N0} ledger totals, {report.AnalyticsKeys:N0} ClickHouse groups)");
        return report.Drifts.Count == 0 ? 0 : 1;
    }

    /// <summary>
    /// The main job's analytics step: one export pass into <paramref name="transport"/>, then a reconcile of every
    /// period the ledger holds; prints the export rate and each drift. Returns the number of drifts.
    /// </summary>
    public static async Task<int> ExportAndReconcileAllAsync(Npgsql.NpgsqlDataSource db, IAnalyticsTransport transport, AnalyticsSchema schema, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(output);
        var moved = await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(cancellationToken).ConfigureAwait(false);
        output.WriteLine($"export: {moved.Rows:N0} rated windows to {transport.Description}, database {schema.Database}, in {moved.Elapsed.TotalSeconds:F2}s ({moved.RowsPerSecond:N0} rows/s)");
        var periods = await BillingTotalsQuery.PeriodStartsAsync(db, cancellationToken).ConfigureAwait(false);

        var reconciler = new AnalyticsReconciler(db, transport, schema);
        var drifts = 0;
        var totals = 0;
        foreach (var period in periods)
        {
            var report = await reconciler.ReconcileAsync(period, cancellationToken).ConfigureAwait(false);
            totals += report.LedgerKeys;
            drifts += report.Drifts.Count;
            foreach (var drift in report.Drifts.Take(20))
            {
                output.WriteLine($"DRIFT {period:yyyy-MM-dd} {drift}");
            }
        }

        output.WriteLine(drifts == 0
            ? $"reconcile: clean: {totals:N0} billing totals in {periods.Count} period(s) equal the ClickHouse sums exactly"
            : $"reconcile: FAILED with {drifts} drift(s)");
        return drifts;
    }
}
