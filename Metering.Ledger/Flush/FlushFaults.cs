using System.Net.Sockets;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// Sorts a flush failure into infrastructure (retried) and data (isolated) faults, so that one record the ledger
/// refuses never halts every tenant's billing and a PostgreSQL restart never dead-letters a good record.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Infrastructure: an <see cref="NpgsqlException"/> that is not a <see cref="PostgresException"/> (connection,
/// I/O, timeouts: the server said nothing about the data), <see cref="TimeoutException"/>, <see cref="IOException"/>,
/// <see cref="SocketException"/>, and the SQLSTATE classes 08 (connection), 40 (serialization failure, deadlock),
/// 53 (insufficient resources), 55 (object not in prerequisite state, e.g. lock not available), 57 (operator
/// intervention, e.g. shutdown), 58 (system error), XX (internal error).</item>
/// <item>Data: SQLSTATE class 22 (data exception: 22021 invalid byte sequence, 22003 numeric out of range, 22P05
/// untranslatable character, ...), 23 (integrity constraint violation), 54 (program limit exceeded, e.g. a value or
/// an array too large), and <see cref="OverflowException"/> or <see cref="ArgumentException"/> thrown by our own
/// rating code while the batch is built (a quantity or an amount beyond numeric(38,9)).</item>
/// <item>Any other SQLSTATE class (42 undefined table after a missed migration, ...) says nothing about the data
/// either: it is treated as infrastructure, retried as before and finally stops the engine, loudly.</item>
/// <item>Everything else (a fence, a bug) is <see cref="FlushFaultKind.Other"/>.</item>
/// </list>
/// Thread-safe (stateless).
/// </remarks>
public static class FlushFaults
{
    /// <summary>Classifies <paramref name="exception"/>, thrown by a flush attempt.</summary>
    public static FlushFaultKind Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case PostgresException postgres:
                var sqlState = postgres.SqlState;
                return sqlState.Length >= 2 && sqlState.AsSpan(0, 2) is "22" or "23" or "54" ? FlushFaultKind.Data : FlushFaultKind.Infrastructure;
            case NpgsqlException or TimeoutException or IOException or SocketException:
                return FlushFaultKind.Infrastructure;
            case OverflowException or ArgumentException:
                return FlushFaultKind.Data;
            default:
                return FlushFaultKind.Other;
        }
    }

    /// <summary>
    /// A short, storable description of a data fault for a dead letter's detail: the SQLSTATE and PostgreSQL's
    /// message (and its detail line), without NUL characters (PostgreSQL text cannot hold them), at most 1,000 chars.
    /// </summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = exception is PostgresException p
            ? $"PostgreSQL {p.SqlState}: {p.MessageText}{(string.IsNullOrEmpty(p.Detail) || p.Detail.StartsWith("Detail redacted", StringComparison.Ordinal) ? "" : " (" + p.Detail + ")")}"
            : $"{exception.GetType().Name}: {exception.Message}";
        text = text.Replace("\0", "\\u0000", StringComparison.Ordinal);
        return text.Length <= 1_000 ? text : text[..1_000];
    }
}
