using System.Text;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Cli.Output;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Web.Api;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering statements export</c>: every account's statement of one period, streamed page by page as NDJSON (one
/// statement per line, exactly the JSON of <c>GET /v1/accounts/{a}/statements/{p}</c>) or CSV (one row per line,
/// <see cref="StatementCsv"/>), with progress on stderr. For a closed period these are the final statements.
/// </summary>
public sealed class StatementsExportCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console or --output.</summary>
    public StatementsExportCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public StatementsExportCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["statements", "export"];

    public string Summary => "export every account's statement of a period (final once closed) as ndjson or csv";

    public string Usage => "usage: metering statements export --period P [--format ndjson|csv] [--output FILE] [--pricebook FILE] [--contracts F1,F2] [ledger options]\n\n" +
        "  --period P                 the period: YYYY-MM-DD (its start date) or YYYY-MM (a calendar month)\n" +
        "  --format ndjson|csv        ndjson (default): one statement per line, the API's JSON; csv: one row per statement line\n" +
        "  --output FILE              write to FILE (replaced only when the export completes) instead of stdout\n" +
        "  --pricebook FILE           a list price book to publish into the registry first; drafts are priced from the registry\n" +
        "  --contracts F1,F2          contract price books\n" +
        LedgerArguments.Usage +
        "\nA closed period's final statements are read as written at close; an open period's are drafts, built now.\n" +
        "exit codes: 0 exported, 1 failed, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = args.RequiredPeriodStart("period");
        var format = args.String("format", "ndjson");
        if (format is not ("ndjson" or "csv"))
        {
            throw new CliUsageException($"--format: '{format}' is not ndjson or csv");
        }

        var outputPath = args.String("output");
        var priceFiles = LedgerArguments.PriceFiles(args);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var prices = await LedgerArguments.RegistryPricesAsync(db, priceFiles, Console.Error, cancellationToken).ConfigureAwait(false);
        if (prices is null)
        {
            Console.Error.WriteLine("statements export: no price book in the registry (publish one, or give --pricebook FILE): drafts are priced with it");
            return 2;
        }

        var rule = prices.List?.Periods ?? BillingPeriodRule.CalendarMonth;
        var period = rule.PeriodOf(start);
        if (period.Start != start)
        {
            throw new CliUsageException($"--period: {start:yyyy-MM-dd} is not the start of a billing period (the period containing it is {period})");
        }

        var temporary = outputPath is null ? null : outputPath + ".partial";
        long statements = 0;
        long finals = 0;
        var writer = _output ?? (temporary is null ? Console.Out : new StreamWriter(temporary, false, new UTF8Encoding(false)));
        try
        {
            using (new ProgressReporter("statements export", () => Interlocked.Read(ref statements), "statements"))
            {
                if (format == "csv")
                {
                    await writer.WriteAsync(StatementCsv.Header + "\r\n").ConfigureAwait(false);
                }

                string? after = null;
                while (true)
                {
                    var page = await StatementQuery.ListAsync(db, period, rule, prices, after, FinalStatementStore.PageSize, cancellationToken).ConfigureAwait(false);
                    foreach (var s in page)
                    {
                        var response = StatementResponses.Of(s);
                        await writer.WriteAsync(format == "csv" ? StatementCsv.Rows(response) : JsonSerializer.Serialize(response, ApiJson.Options) + "\n").ConfigureAwait(false);
                        finals += s.Final ? 1 : 0;
                        Interlocked.Increment(ref statements);
                    }

                    if (page.Count < FinalStatementStore.PageSize)
                    {
                        break;
                    }

                    after = page[^1].Statement.Account;
                }
            }

            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (temporary is not null)
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (temporary is not null)
        {
            File.Move(temporary, outputPath!, overwrite: true);
        }

        Console.Error.WriteLine($"statements export: period {period}: {statements:N0} statements ({finals:N0} final, {statements - finals:N0} draft) as {format}{(outputPath is null ? "" : " to " + outputPath)}");
        return 0;
    }
}
