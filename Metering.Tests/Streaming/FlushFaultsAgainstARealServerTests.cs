using Metering.Ledger.Flush;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>The errors a real PostgreSQL raises for bad values, and a refused connection, are classified as the pure rule says.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FlushFaultsAgainstARealServerTests(PostgresFixture postgres)
{
        [Fact]
    public async Task Errors_a_real_server_raises_for_bad_values_are_data_faults_and_a_refused_connection_is_infrastructure()
    {
        await using var db = NpgsqlDataSource.Create(await postgres.NewDatabaseAsync());
        async Task<Exception> Fails(string sql, object value)
        {
            await using var cmd = db.CreateCommand(sql);
            cmd.Parameters.Add(new() { Value = value });
            return await Assert.ThrowsAnyAsync<Exception>(() => cmd.ExecuteNonQueryAsync());
        }

        var nul = await Fails("SELECT $1::text", "a\0b");
        Assert.Equal(FlushFaultKind.Data, FlushFaults.Classify(nul));
        Assert.DoesNotContain('\0', FlushFaults.Describe(nul));
        var tooBig = await Fails("SELECT ($1::numeric * 10)::numeric(38,9)", decimal.MaxValue);
        Assert.Equal("22003", Assert.IsType<PostgresException>(tooBig).SqlState);
        Assert.Equal(FlushFaultKind.Data, FlushFaults.Classify(tooBig));

        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Timeout=2");
        var refused = await Assert.ThrowsAnyAsync<Exception>(async () => await nowhere.OpenConnectionAsync());
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(refused));
    }
}
