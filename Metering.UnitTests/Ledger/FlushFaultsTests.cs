using System.Net.Sockets;
using Metering.Ledger.Flush;
using Npgsql;

namespace Metering.UnitTests.Ledger;

/// <summary>Which flush failures are retried (infrastructure) and which are isolated (data): one case per class.</summary>
public sealed class FlushFaultsTests
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
}
