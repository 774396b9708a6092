using Metering.Analytics.ChDb;
using Metering.Analytics;
using Npgsql;

namespace Metering.Cli.Arguments;

/// <summary>Options shared by the commands that use the ClickHouse analytics store.</summary>
public static class AnalyticsArguments
{
    /// <summary>Environment variable holding the ClickHouse server password (kept off the command line).</summary>
    public const string PasswordVariable = "METERING_CLICKHOUSE_PASSWORD";

    /// <summary>Usage text of the analytics options.</summary>
    public const string Usage = """
          --clickhouse-url URL       ClickHouse server HTTP endpoint, e.g. http://clickhouse:8123/ (default: embedded chDB)
          --clickhouse-user NAME     server user (password from METERING_CLICKHOUSE_PASSWORD)
          --clickhouse-dir DIR       embedded chDB data directory (default .metering/clickhouse)
          --clickhouse-database NAME ClickHouse database (default: the PostgreSQL ledger's database name; one per ledger)
          --clickhouse-ttl-days N    retention of rated windows after window_start, 0 = forever (default 400)
        """;

    /// <summary>The options <see cref="Transport"/> and <see cref="Schema(CliArguments, string)"/> read (see <see cref="LedgerArguments.Options"/>).</summary>
    public static IReadOnlyList<string> Options { get; } = ["clickhouse-url", "clickhouse-user", "clickhouse-dir", "clickhouse-database", "clickhouse-ttl-days"];

    /// <summary>The transport the options name: the server over HTTP, or embedded chDB.</summary>
    public static IAnalyticsTransport Transport(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var url = args.String("clickhouse-url");
        var user = args.String("clickhouse-user");
        var dir = args.String("clickhouse-dir", ChDbTransport.DefaultDataDirectory)!;
        if (url is null)
        {
            return new ChDbTransport(dir);
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliUsageException($"--clickhouse-url '{url}' must be an absolute http:// or https:// URL");
        }

        return new ClickHouseHttpTransport(uri, user, Environment.GetEnvironmentVariable(PasswordVariable));
    }

    /// <summary>
    /// The schema the options name. The ClickHouse database defaults to the ledger's PostgreSQL database name: outbox
    /// ids are the dedup key and are unique only within one ledger, so two ledgers must never share a ClickHouse table.
    /// </summary>
    public static AnalyticsSchema Schema(CliArguments args, NpgsqlDataSource ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        return Schema(args, new NpgsqlConnectionStringBuilder(ledger.ConnectionString).Database ?? "metering");
    }

    /// <summary>The schema the options name, for a ledger database named <paramref name="ledgerDatabase"/>.</summary>
    public static AnalyticsSchema Schema(CliArguments args, string ledgerDatabase)
    {
        ArgumentNullException.ThrowIfNull(args);
        var database = args.String("clickhouse-database") ?? ledgerDatabase;
        try
        {
            return new AnalyticsSchema(database, (int)args.Int64("clickhouse-ttl-days", AnalyticsSchema.DefaultTtlDays, 0, 36_500));
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message + "; name one with --clickhouse-database");
        }
    }

    /// <summary>The ledger's database name from --pg or --database, without connecting (default metering).</summary>
    public static string LedgerDatabaseName(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.String("pg") is { } cs ? new NpgsqlConnectionStringBuilder(cs).Database ?? "metering" : args.String("database", "metering")!;
    }
}
