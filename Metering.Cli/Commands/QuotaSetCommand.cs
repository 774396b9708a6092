using Metering.Cli.Arguments;
using Metering.Ledger.Quotas;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;

namespace Metering.Cli.Commands;

/// <summary><c>metering quota set</c>: adds a quota (an alert threshold per billing period) for an account.</summary>
public sealed class QuotaSetCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public QuotaSetCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public QuotaSetCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["quota", "set"];

    public string Summary => "set a quota: alert once per billing period when an account's SKU quantity or spend crosses a threshold";

    public string Usage => "usage: metering quota set --account A [--sku S] --metric quantity|amount --threshold X [--currency C] [ledger options]\n\n" +
        "  --account A                the account\n" +
        "  --metric quantity|amount   quantity: the period's cumulative quantity of --sku (raw metered units);\n" +
        "                             amount: the period's charged amount of all the account's SKUs in --currency\n" +
        "  --sku S                    quantity quotas: the SKU (not allowed for amount quotas)\n" +
        "  --currency C               amount quotas: ISO 4217 code, e.g. USD (not allowed for quantity quotas)\n" +
        "  --threshold X              decimal above 0 and below 10^18, at most 9 fractional digits; an alert fires when a\n" +
        "                             flush moves the metric from below X to X or more\n" +
        LedgerArguments.Usage +
        "\nSetting the same quota again changes nothing (prints its id). Running engines see a new quota within 2 s.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var account = args.Required("account");
        var sku = args.String("sku");
        var metric = args.Required("metric") switch
        {
            "quantity" => QuotaMetric.Quantity,
            "amount" => QuotaMetric.Amount,
            var other => throw new CliUsageException($"--metric expects quantity or amount, got '{other}'"),
        };
        var currency = args.String("currency")?.ToUpperInvariant();
        if (LedgerDecimal.ParsePositive(args.String("threshold"), out var threshold) is { } problem)
        {
            throw new CliUsageException("--threshold " + problem);
        }

        if (metric == QuotaMetric.Quantity && (sku is null || currency is not null))
        {
            throw new CliUsageException("a quantity quota limits one SKU: give --sku and no --currency");
        }

        if (metric == QuotaMetric.Amount && (sku is not null || currency is null || !Rating.Money.Currency.TryGet(currency, out _)))
        {
            throw new CliUsageException("an amount quota sums all the account's SKUs in one currency: give --currency (an ISO 4217 code) and no --sku");
        }

        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var id = await QuotaStore.SetAsync(db, account, sku, metric, threshold, currency, cancellationToken).ConfigureAwait(false);
        (_output ?? Console.Out).WriteLine($"quota {id}: {QuotaListCommand.Describe(account, sku, metric, threshold, currency)}");
        return 0;
    }
}
