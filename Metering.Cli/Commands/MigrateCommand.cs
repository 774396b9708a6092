using Metering.Cli.Arguments;
using Metering.Ledger.Migrations;
using Npgsql;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering migrate</c>: applies the embedded schema migrations to the ledger and prints what it applied. The
/// deployment runs it once per install or upgrade (the Helm hook Job) before any engine starts; engines apply missing
/// migrations at start-up too, so it is the same code path under the same advisory lock, run ahead of time.
/// </summary>
public sealed class MigrateCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>A command that prints to the console.</summary>
    public MigrateCommand()
    {
    }

    /// <summary>A command that prints its report to <paramref name="output"/> (tests).</summary>
    public MigrateCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["migrate"];

    public string Summary => "apply the ledger's schema migrations to PostgreSQL and print what was applied";

    public string Usage => "usage: metering migrate [--pg CONNECTION_STRING] [--pg-dir DIR] [--database NAME]\n\n" +
        "  --pg CONNECTION_STRING     PostgreSQL to migrate (default: the embedded one in --pg-dir)\n" +
        "  --pg-dir DIR               embedded PostgreSQL directory (default .metering/postgres)\n" +
        "  --database NAME            database of the embedded PostgreSQL (default metering)\n\n" +
        "Applies every embedded migration not yet in schema_migrations, in order, each in its own transaction, under an\n" +
        "advisory lock (concurrent runs apply each once). An applied migration whose text changed is refused by name.\n" +
        "Every option falls back to its METERING_* environment variable (e.g. METERING_PG).\n" +
        "exit codes: 0 applied or nothing to do, 1 a migration or the connection failed, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var output = _output ?? Console.Out;
        // Name the options this command reads, then reject typos before touching anything: a mistyped --pg must not
        // quietly start (and migrate) the embedded server instead.
        foreach (var option in (ReadOnlySpan<string>)["pg", "pg-dir", "database"])
        {
            _ = args.Has(option);
        }

        args.RejectUnknown();
        var connectionString = await LedgerArguments.ConnectionStringAsync(args, cancellationToken).ConfigureAwait(false);
        var target = Describe(connectionString);
        var embedded = MigrationRunner.Embedded();
        IReadOnlyList<int> applied;
        try
        {
            applied = await MigrationRunner.ApplyAsync(connectionString, embedded, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            // Checksum refusals and failed migrations are InvalidOperationException / PostgresException: each failed
            // migration rolled back on its own, those before it stay applied. Say which, without a stack trace.
            output.WriteLine($"migrate: FAILED on {target}: {e.Message}");
            return 1;
        }

        foreach (var version in applied)
        {
            output.WriteLine($"migrate: applied {embedded.First(m => m.Version == version).Name}");
        }

        var latest = embedded.Count == 0 ? 0 : embedded[^1].Version;
        output.WriteLine(applied.Count == 0
            ? $"migrate: nothing to do on {target}: all {embedded.Count} migration(s) already applied, schema at version {latest}"
            : $"migrate: {applied.Count} migration(s) applied on {target}, schema at version {latest}");
        return 0;
    }

    /// <summary>Host, port and database of a connection string, never its password.</summary>
    private static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{b.Host}:{b.Port}/{b.Database}";
    }
}
