using System.Globalization;
using Metering.Analytics;
using Metering.Cli.Arguments;

namespace Metering.Cli.Commands;

/// <summary><c>metering usage</c>: an account's usage from ClickHouse, bucketed (what the REST API's usage endpoint answers).</summary>
public sealed class UsageCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["usage"];

    public string Summary => "query an account's rated usage from ClickHouse by minute, hour or day, grouped by dimensions";

    public string Usage => "usage: metering usage --account A --from TIME --to TIME [--sku S] [--granularity minute|hour|day] [--group-by k1,k2] [analytics options]\n\n" +
        "  --account A                the account\n" +
        "  --from TIME, --to TIME     half-open range [from, to), RFC 3339 (e.g. 2026-11-01T00:00:00Z)\n" +
        "  --sku S                    one SKU (default: all)\n" +
        "  --granularity G            minute, hour (default) or day (UTC)\n" +
        "  --group-by KEYS            dimension keys to group by, comma-separated (at most 8)\n" +
        AnalyticsArguments.Usage +
        "  --pg CONNECTION_STRING, --database NAME   only name the ledger (its ClickHouse database); PostgreSQL is not contacted\n" +
        "\nprints one tab-separated line per bucket: bucket, sku, dimensions, quantity, records, amount, currency\n" +
        "exit codes: 0 ok, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (ClickHouseException e)
        {
            Console.Error.WriteLine($"metering usage: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunCoreAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var account = args.Required("account");
        var from = Time(args, "from");
        var to = Time(args, "to");
        var sku = args.String("sku");
        var granularity = args.String("granularity", "hour") switch
        {
            "minute" => UsageGranularity.Minute,
            "hour" => UsageGranularity.Hour,
            "day" => UsageGranularity.Day,
            var g => throw new CliUsageException($"--granularity '{g}': expected minute, hour or day"),
        };
        var groupBy = (args.String("group-by") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var schema = AnalyticsArguments.Schema(args, AnalyticsArguments.LedgerDatabaseName(args));
        args.RejectUnknown(AnalyticsArguments.Options);
        using var transport = AnalyticsArguments.Transport(args);
        var store = new ClickHouseUsageStore(transport, schema);
        IReadOnlyList<UsagePoint> points;
        try
        {
            points = await store.QueryUsageAsync(new UsageQuery(account, sku, from, to, granularity, groupBy), cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }

        foreach (var p in points)
        {
            var dims = string.Join(",", groupBy.Select(k => k + "=" + p.Dimensions[k]));
            Console.Out.WriteLine(string.Join('\t', p.BucketStart.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), p.Sku, dims,
                p.Quantity.ToString(CultureInfo.InvariantCulture), p.RecordCount.ToString(CultureInfo.InvariantCulture), p.Amount.ToString(CultureInfo.InvariantCulture), p.Currency));
        }

        Console.Error.WriteLine($"usage: {points.Count:N0} bucket(s)");
        return 0;
    }

    private static DateTimeOffset Time(CliArguments args, string name)
    {
        var s = args.Required(name);
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new CliUsageException($"--{name} '{s}': expected an RFC 3339 time such as 2026-11-01T00:00:00Z");
    }
}
