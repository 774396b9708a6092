using Metering.DevKit;
using Metering.DevKit.Postgres;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
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
    public static PriceCatalog? Prices(CliArguments args) => PriceFiles(args).Catalog;

    /// <summary>Usage text of the registry options (commands that rate from the registry).</summary>
    public const string RegistryUsage = """
          --pricebook FILE, --contracts FILES   price books published into the registry first (idempotent; a file that
                                     disagrees with the registry on a version is refused); default: the registry's books,
                                     or examples/pricebooks/list.json when the registry holds no list book yet
          --pricebook-id ID          the registry's list book to rate with when it holds several (default: --pricebook's)
          --pricebook-refresh DURATION   poll the registry this often besides LISTEN/NOTIFY (default 5s)

        """;

    /// <summary>
    /// Reads --pricebook (default examples/pricebooks/list.json when present), --contracts (and, when
    /// <paramref name="defaultContracts"/> and neither is given, the examples' contract next to the default list book),
    /// --pricebook-id and --pricebook-refresh; loads and validates the files before anything starts.
    /// </summary>
    public static PriceBookFiles PriceFiles(CliArguments args, bool defaultContracts = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        var given = args.String("pricebook");
        var contractsGiven = args.String("contracts");
        var listBook = args.String("pricebook-id");
        var refresh = args.Duration("pricebook-refresh", TimeSpan.FromSeconds(5));
        if (refresh <= TimeSpan.Zero)
        {
            throw new CliUsageException("--pricebook-refresh must be above zero");
        }

        var list = given ?? DefaultPriceBook();
        var contracts = (contractsGiven ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (defaultContracts && given is null && contractsGiven is null && list is not null)
        {
            contracts.AddRange(new[] { Path.GetDirectoryName(list)! }.Select(dir => Path.Combine(dir, "contract-acct-1.json")).Where(File.Exists));
        }

        if (list is null)
        {
            return new PriceBookFiles(null, [], false, listBook, refresh);
        }

        try
        {
            var bytes = File.ReadAllBytes(list);
            var book = PriceBookLoader.Load(bytes, list);
            var files = new List<PriceBookFile> { new(list, book, bytes) };
            foreach (var c in contracts)
            {
                var contractBytes = File.ReadAllBytes(c);
                files.Add(new PriceBookFile(c, PriceBookLoader.Load(contractBytes, c, book), contractBytes));
            }

            if (listBook is not null && given is not null && listBook != book.Id)
            {
                throw new CliUsageException($"--pricebook-id {listBook} names another book than --pricebook {list} ('{book.Id}')");
            }

            return new PriceBookFiles(new PriceCatalog(book, files.Skip(1).Select(f => f.Book).ToList()), files, given is not null || contractsGiven is not null, listBook, refresh);
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

    /// <summary>
    /// Publishes <paramref name="files"/> into the registry (given files always; the default example only while the
    /// registry holds no list book), then returns the registry's list book to rate with: --pricebook-id, the given
    /// file's, or the registry's only one. A file that disagrees with the registry is a usage error naming the version
    /// and both hashes (<see cref="PriceBookRegistryException"/>), and nothing of it is published.
    /// </summary>
    public static async Task<string?> PublishFilesAsync(NpgsqlDataSource db, PriceBookFiles files, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(log);
        var publish = files.Given;
        if (!publish && files.Files.Count > 0)
        {
            var lists = await new PriceBookStore(db).ListAsync(null, cancellationToken).ConfigureAwait(false);
            publish = !lists.Any(v => v.Account is null);
        }

        try
        {
            if (publish)
            {
                foreach (var f in files.Files)
                {
                    var outcomes = await PriceBookRegistry.PublishFileAsync(db, f.Book, f.Json, f.Path, cancellationToken).ConfigureAwait(false);
                    foreach (var o in outcomes.Where(o => o.Result == PublishResult.Created))
                    {
                        await log.WriteLineAsync($"price books: published {o.Stored.BookId} version {o.Stored.Version} ({o.Stored.VersionHash}) from {f.Path}{(o.Superseded is null ? "" : $"; it supersedes version {o.Superseded} from {o.Stored.EffectiveFrom:yyyy-MM-dd'T'HH:mm:ss'Z'}")}").ConfigureAwait(false);
                    }
                }
            }
        }
        catch (PriceBookRegistryException e)
        {
            throw new CliUsageException(e.Message, showUsage: false);
        }

        return files.ListBook ?? (publish ? files.Catalog?.List?.Id : null);
    }

    /// <summary>Publishes <paramref name="files"/> (<see cref="PublishFilesAsync"/>) and loads the registry's catalog once.</summary>
    public static async Task<PriceCatalog?> RegistryPricesAsync(NpgsqlDataSource db, PriceBookFiles files, TextWriter log, CancellationToken cancellationToken)
    {
        var listBook = await PublishFilesAsync(db, files, log, cancellationToken).ConfigureAwait(false);
        try
        {
            return (await PriceBookRegistry.LoadAsync(db, listBook, cancellationToken).ConfigureAwait(false)).Catalog;
        }
        catch (PriceBookRegistryException e)
        {
            throw new CliUsageException(e.Message, showUsage: false);
        }
    }

    /// <summary>Publishes <paramref name="files"/> and opens the registry's catalog as it follows publishes (stream, serve).</summary>
    public static async Task<PriceCatalogSource> RegistrySourceAsync(NpgsqlDataSource db, PriceBookFiles files, TextWriter log, CancellationToken cancellationToken)
    {
        var listBook = await PublishFilesAsync(db, files, log, cancellationToken).ConfigureAwait(false);
        try
        {
            return await PriceCatalogSource.OpenAsync(db, listBook, files.Refresh, log, cancellationToken).ConfigureAwait(false);
        }
        catch (PriceBookRegistryException e)
        {
            throw new CliUsageException(e.Message, showUsage: false);
        }
    }
}
