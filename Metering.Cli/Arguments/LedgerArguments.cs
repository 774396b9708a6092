using Metering.DevKit;
using Metering.DevKit.Postgres;
using Metering.Ledger.Migrations;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Cli.Arguments;

/// <summary>Options shared by the commands that use the PostgreSQL ledger and price books.</summary>
public static class LedgerArguments
{
    /// <summary>Usage text of the ledger options.</summary>
    public const string Usage = """
          --pg CONNECTION_STRING     PostgreSQL to use (default: the embedded one in --pg-dir)
          --pg-dir DIR               embedded PostgreSQL directory (default .metering/postgres)
          --database NAME            database of the embedded PostgreSQL (default metering)
          --group NAME               consumer group (default metering)
          --topic NAME               usage topic (default usage)
        """;

    /// <summary>
    /// The options <see cref="OpenAsync"/> and <see cref="ConnectionStringAsync"/> read: a command that calls them after
    /// checking for unknown options names these as read later (<see cref="CliArguments.RejectUnknown(IEnumerable{string})"/>).
    /// </summary>
    public static IReadOnlyList<string> Options { get; } = ["pg", "pg-dir", "database"];

    /// <summary>Opens the ledger: the configured server, or the embedded one (started or reused); migrations applied.</summary>
    public static async Task<NpgsqlDataSource> OpenAsync(CliArguments args, CancellationToken cancellationToken, string? database = null)
    {
        var connectionString = await ConnectionStringAsync(args, cancellationToken, database).ConfigureAwait(false);
        IReadOnlyList<int> applied;
        try
        {
            applied = await MigrationRunner.ApplyAsync(connectionString, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
        {
            // The first connection of the run: a server that is down or refuses us is a start-up failure, one line.
            throw Unreachable(connectionString, e);
        }

        if (applied.Count > 0)
        {
            Console.Error.WriteLine($"postgres: applied migration(s) {string.Join(", ", applied)}");
        }

        return NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>The ledger's connection string: --pg, or the embedded server in --pg-dir (started or reused, database created).</summary>
    public static async Task<string> ConnectionStringAsync(CliArguments args, CancellationToken cancellationToken, string? database = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var connectionString = args.String("pg");
        var dir = args.String("pg-dir", Path.Combine(".metering", "postgres"))!;
        database ??= args.String("database", "metering")!;
        if (connectionString is null)
        {
            var server = new EmbeddedPostgres(dir);
            var reused = await server.StartAsync(cancellationToken).ConfigureAwait(false);
            connectionString = server.ConnectionStringFor(database);
            try
            {
                await server.EnsureDatabaseAsync(database, cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unreachable(connectionString, e);
            }

            Console.Error.WriteLine($"postgres: embedded in {server.ServerDirectory} ({(reused ? "reused" : "started")}), database {database}, port {server.Port}, role {EmbeddedPostgres.Role}");
        }

        return connectionString;
    }

    /// <summary>One line naming the server (host, port, database, user; never the password) and what to check.</summary>
    private static DependencyUnavailableException Unreachable(string connectionString, NpgsqlException e)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var reason = (e.InnerException is { } inner && e is not PostgresException ? inner.Message : e.Message).ReplaceLineEndings(" ");
        return new DependencyUnavailableException($"cannot use PostgreSQL at {b.Host}:{b.Port}/{b.Database} as '{b.Username}': {reason}; check --pg (or METERING_PG), or leave it out for the embedded server", e);
    }

    /// <summary>examples/pricebooks/list.json in the working directory, else the copy next to the program; null if neither.</summary>
    private static string? DefaultPriceBook() =>
        new[] { Path.Combine("examples", "pricebooks", "list.json"), Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json") }
            .FirstOrDefault(File.Exists);

    /// <summary>Loads --pricebook (default examples/pricebooks/list.json when present) and --contracts.</summary>
    public static PriceCatalog? Prices(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var list = args.String("pricebook") ?? DefaultPriceBook();
        var contracts = (args.String("contracts") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (list is null)
        {
            return null;
        }

        try
        {
            var book = PriceBookLoader.LoadFile(list);
            return new PriceCatalog(book, contracts.Select(c => PriceBookLoader.LoadFile(c, book)).ToList());
        }
        catch (PriceBookException e)
        {
            throw new CliUsageException(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A price book that cannot be read is the caller's mistake, named with its path: a usage error, not a crash.
            throw new CliUsageException($"--pricebook/--contracts: cannot read a price book: {e.Message}");
        }
    }
}
