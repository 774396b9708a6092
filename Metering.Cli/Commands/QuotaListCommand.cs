using System.Globalization;
using Metering.Cli.Arguments;
using Metering.Ledger.Quotas;
using Metering.Rating.PriceBooks;

namespace Metering.Cli.Commands;

/// <summary><c>metering quota list</c>: prints the quotas (from <c>quota set</c> and from price books).</summary>
public sealed class QuotaListCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public QuotaListCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public QuotaListCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["quota", "list"];

    public string Summary => "list quotas (operators' and price books'), optionally of one account";

    public string Usage => "usage: metering quota list [--account A] [ledger options]\n\n" +
        "  --account A                only this account's quotas\n" +
        LedgerArguments.Usage +
        "\nOne line per quota: id, source (api | pricebook), account, what it limits, threshold.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var account = args.String("account");
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var quotas = await QuotaStore.ListAsync(db, account, cancellationToken).ConfigureAwait(false);
        foreach (var q in quotas)
        {
            // A threshold stored outside the ledger range (written around the API) is shown as stored, flagged.
            var line = q.InvalidThreshold is { } stored
                ? $"{q.Account}: threshold {stored} is outside the ledger range and skipped by every evaluation; remove it (metering quota remove --id {q.Id})"
                : Describe(q.Account, q.Sku, q.Metric, q.Threshold, q.Currency);
            (_output ?? Console.Out).WriteLine(string.Create(CultureInfo.InvariantCulture, $"{q.Id,6}  {q.Source,-9}  {line}"));
        }

        Console.Error.WriteLine($"quota list: {quotas.Count} quota(s)");
        return 0;
    }

    /// <summary>"acct-1: quantity of api.calls >= 1000000 per period" / "acct-1: amount in USD >= 500 per period".</summary>
    internal static string Describe(string account, string? sku, QuotaMetric metric, decimal threshold, string? currency) =>
        metric == QuotaMetric.Quantity
            ? string.Create(CultureInfo.InvariantCulture, $"{account}: quantity of {sku} >= {threshold:G29} per period")
            : string.Create(CultureInfo.InvariantCulture, $"{account}: amount in {currency} >= {threshold:G29} per period");
}
