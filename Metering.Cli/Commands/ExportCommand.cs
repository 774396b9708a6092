using System.Runtime.InteropServices;
using Metering.Analytics;
using Metering.Cli.Arguments;

namespace Metering.Cli.Commands;

/// <summary><c>metering export</c>: moves the rated-windows outbox from PostgreSQL into ClickHouse, once or continuously.</summary>
public sealed class ExportCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["export"];

    public string Summary => "export rated windows (the outbox) from PostgreSQL into ClickHouse analytics, once or continuously";

    public string Usage => "usage: metering export [--follow] [--interval DURATION] [--batch N] [analytics options] [ledger options]\n\n" +
        "  --follow                   keep exporting every --interval until Ctrl-C / SIGTERM (default: one pass, then exit)\n" +
        "  --interval DURATION        pause between passes with --follow (default 5s)\n" +
        "  --batch N                  rows per Arrow batch (default 50000)\n" +
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
        var batch = (int)args.Int64("batch", 50_000, 1, 1_000_000);
        args.RejectUnknown([.. LedgerArguments.Options, .. AnalyticsArguments.Options]);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var schema = AnalyticsArguments.Schema(args, db);
        using var transport = AnalyticsArguments.Transport(args);
        var exporter = new AnalyticsExporter(db, transport, schema, batch);
        Console.Error.WriteLine($"export: to {transport.Description}, database {schema.Database}");
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
        await exporter.RunAsync(interval, stop.Token, Console.Error).ConfigureAwait(false);
        Console.Error.WriteLine("export: stopped");
        return 0;
    }
}
