using System.Net.Sockets;
using Metering.Ledger.Flush;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>Which flush failures are retried (infrastructure) and which are isolated (data): one case per class.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FlushFaultsTests(PostgresFixture postgres)
{
    private static PostgresException Postgres(string sqlState) => new("message", "ERROR", "ERROR", sqlState);

    [Theory]
    [InlineData("08006")] // connection failure
    [InlineData("40001")] // serialization failure
    [InlineData("40P01")] // deadlock detected
    [InlineData("53300")] // too many connections
    [InlineData("55P03")] // lock not available
    [InlineData("57P01")] // admin shutdown
    [InlineData("58030")] // I/O error
    [InlineData("XX000")] // internal error
    [InlineData("42P01")] // undefined table: says nothing about the data, retried as before
    public void A_server_error_outside_the_data_classes_is_an_infrastructure_fault(string sqlState) =>
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(Postgres(sqlState)));

    [Theory]
    [InlineData("22021")] // invalid byte sequence (a NUL in text)
    [InlineData("22003")] // numeric value out of range
    [InlineData("22P05")] // untranslatable character
    [InlineData("23514")] // check violation
    [InlineData("23505")] // unique violation
    [InlineData("54000")] // program limit exceeded
    public void A_server_error_of_the_data_classes_is_a_data_fault(string sqlState) =>
        Assert.Equal(FlushFaultKind.Data, FlushFaults.Classify(Postgres(sqlState)));

    [Fact]
    public void Connection_io_and_timeout_errors_are_infrastructure_faults()
    {
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(new NpgsqlException("Exception while reading from stream", new IOException("reset"))));
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(new TimeoutException()));
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(new IOException("broken pipe")));
        Assert.Equal(FlushFaultKind.Infrastructure, FlushFaults.Classify(new SocketException((int)SocketError.ConnectionRefused)));
    }

    [Fact]
    public void Overflow_and_argument_errors_of_the_rating_code_are_data_faults()
    {
        Assert.Equal(FlushFaultKind.Data, FlushFaults.Classify(new OverflowException("window quantity exceeds numeric(38,9)")));
        Assert.Equal(FlushFaultKind.Data, FlushFaults.Classify(new ArgumentOutOfRangeException("quantity")));
    }

    [Fact]
    public void A_fence_or_a_bug_is_neither_retried_nor_isolated()
    {
        Assert.Equal(FlushFaultKind.Other, FlushFaults.Classify(new FencedException("moved on")));
        Assert.Equal(FlushFaultKind.Other, FlushFaults.Classify(new InvalidOperationException("bug")));
    }

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
