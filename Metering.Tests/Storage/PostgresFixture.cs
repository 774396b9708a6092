using Metering.Ingest.Storage;

namespace Metering.Tests.Storage;

/// <summary>
/// One real PostgreSQL for the whole test run: the server named by METERING_TEST_PG_DIR's embedded instance, or a
/// private one in a temp directory, stopped at the end. Each test asks for a database of its own.
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
            System.IO.Directory.Delete(_dir, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            // owned by the postgres user; the OS cleans the temp directory
        }
    }

    /// <summary>A fresh, empty database; returns its connection string.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = "test_" + Guid.NewGuid().ToString("N")[..16];
        await Server.EnsureDatabaseAsync(name);
        return Server.ConnectionStringFor(name);
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
