using System.Runtime.InteropServices;
using Metering.Analytics;
using Metering.Cli.Arguments;
using Metering.Cli.Hosting;

namespace Metering.Cli.Commands;

/// <summary><c>metering export</c>: moves the rated-windows outbox from PostgreSQL into ClickHouse, once or continuously.</summary>
public sealed class ExportCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["export"];

    public string Summary => "export rated windows (the outbox) from PostgreSQL into ClickHouse analytics, once or continuously";

    public string Usage => "usage: metering export [--follow] [--interval DURATION] [--batch N] [metrics options] [analytics options] [ledger options]\n\n" +
        "  --follow                   keep exporting every --interval until Ctrl-C / SIGTERM (default: one pass, then exit)\n" +
        "  --interval DURATION        pause between passes with --follow (default 5s)\n" +
        "  --batch N                  rows per ClickHouse insert, whole outbox blobs (default 500000)\n" +
        "  --reconcile-every DURATION with --follow: also reconcile the latest periods with PostgreSQL this often and export\n" +
        "                             the drifts as metering_reconcile_drifts (default 0 = never)\n" +
        "  --reconcile-periods N      how many of the latest periods a round reconciles (default 2: the open and the last)\n" +
        MetricsArguments.Usage +
        "                             /readyz: 200 while the last pass succeeded, 503 before the first and after a failed one\n" +
        AnalyticsArguments.Usage + LedgerArguments.Usage +
        "\nA re-sent batch (crash between insert and mark) never counts twice: see docs/analytics.md.\n" +
        "exit codes: 0 ok, 1 export failed, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (ClickHouseException e)
        {
            Console.Error.WriteLine($"metering export: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunCoreAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var follow = args.Has("follow");
        var interval = args.Duration("interval", TimeSpan.FromSeconds(5));
        var batch = (int)args.Int64("batch", AnalyticsExporter.DefaultBatchSize, 1, 1_000_000);
        var reconcileEvery = args.Duration("reconcile-every", TimeSpan.Zero);
        var reconcilePeriods = (int)args.Int64("reconcile-periods", 2, 1, 1000);
        if (interval <= TimeSpan.Zero || reconcileEvery < TimeSpan.Zero)
        {
            throw new CliUsageException("--interval must be positive and --reconcile-every positive or 0");
        }

        var metricsListen = MetricsArguments.Listen(args, continuous: follow);
        args.RejectUnknown([.. LedgerArguments.Options, .. AnalyticsArguments.Options]);
        ExportHost? host = null;
        // The listener first: a busy port is refused before PostgreSQL or ClickHouse is touched.
        await using var metrics = metricsListen is null ? null
            : await MetricsArguments.StartAsync(metricsListen, health: null, ready: _ => Task.FromResult(host?.Readiness ?? (false, "starting")), cancellationToken).ConfigureAwait(false);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var schema = AnalyticsArguments.Schema(args, db);
        using var transport = AnalyticsArguments.Transport(args);
        host = new ExportHost(db, transport, schema, batch, interval, reconcileEvery, reconcilePeriods, Console.Error);
        var exporter = host.Exporter;
        Console.Error.WriteLine($"export: to {transport.Description}, database {schema.Database}{(metrics is null ? "" : $"; metrics, /healthz and /readyz at {string.Join(", ", metrics.Urls)}")}");
        if (!follow)
        {
            var result = await exporter.ExportOnceAsync(cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"export: {result.Rows:N0} rows in {result.Batches} batch(es), {result.Elapsed.TotalSeconds:F2}s ({result.RowsPerSecond:N0} rows/s; read {result.Read.TotalSeconds:F2}s, insert {result.Insert.TotalSeconds:F2}s, mark {result.Mark.TotalSeconds:F2}s)");
            return 0;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        await host.RunAsync(stop.Token).ConfigureAwait(false);
        Console.Error.WriteLine("export: stopped");
        return 0;
    }
}
