using Npgsql;

namespace Metering.Ledger;

/// <summary>The ledger's readiness check.</summary>
public static class LedgerHealth
{
    /// <summary>
    /// True when PostgreSQL answers a trivial query on a connection from <paramref name="db"/>; connection and query
    /// failures are thrown (the caller decides how to report them and how long to wait).
    /// </summary>
    public static async Task<bool> PingAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("SELECT 1");
        return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is 1;
    }
}
