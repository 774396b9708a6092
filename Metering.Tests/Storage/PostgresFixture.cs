using Metering.DevKit.Postgres;
using Npgsql;

namespace Metering.Tests.Storage;

/// <summary>
/// One real PostgreSQL for the whole test run: the engine's own embedded server in a temp directory (or, when the
/// postgres OS user cannot enter that, in the /var/tmp directory the server picks), stopped and removed at the end.
/// Tests connect as the engine does, as the non-superuser role metering. Each test asks for a database of its own.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "metering-test-pg-" + Environment.ProcessId);

    public EmbeddedPostgres Server { get; private set; } = null!;

    public string Directory => _dir;

    public async Task InitializeAsync()
    {
        Server = new EmbeddedPostgres(_dir);
        await Server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Server.StopAsync();
        try
        {
            if (Server.ServerDirectory != _dir)
            {
                System.IO.Directory.Delete(Server.ServerDirectory, recursive: true);
            }

            System.IO.Directory.Delete(_dir, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            // owned by the postgres user; the OS cleans the temp directory
        }
    }

    /// <summary>
    /// A fresh, empty database; returns its connection string. Every database gets pools of its own (one per
    /// connection string and per data source), and a pool keeps idle connections for five minutes by default: a few
    /// hundred tests, each with its own database, then hold more idle connections than the server's
    /// <c>max_connections</c> on a slow machine. Idle connections of a test database are closed after two seconds.
    /// </summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "test_" + Guid.NewGuid().ToString("N")[..16];
        await Server.EnsureDatabaseAsync(name);
        return new NpgsqlConnectionStringBuilder(Server.ConnectionStringFor(name))
        {
            ConnectionIdleLifetime = 2,
            ConnectionPruningInterval = 1,
        }.ConnectionString;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
