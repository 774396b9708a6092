using System.Diagnostics;
using Metering.Ledger.Accounts;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// What the account directory costs at a given size: <c>metering bench --accounts N</c> fills the ledger's
/// <c>accounts</c> with N ids (<c>acct-1</c>..<c>acct-N</c>, as the workload names them), loads them, and reports the
/// load time, the managed memory the snapshot holds per account, and how long a newly committed account takes to
/// become visible through NOTIFY (docs/api.md#accounts quotes the result).
/// </summary>
public static class AccountDirectoryMeasurement
{
    /// <summary>The result: load time, bytes held per account, and commit-to-visible delay of one new account.</summary>
    public sealed record Result(int Accounts, TimeSpan FirstLoad, double BytesPerAccount, TimeSpan NewAccountVisible, TimeSpan Reload);

    /// <summary>Runs the measurement on <paramref name="db"/> (a migrated, throw-away ledger: its accounts are replaced).</summary>
    public static async Task<Result> RunAsync(NpgsqlDataSource db, int accounts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(accounts, 1);
        await using (var fill = db.CreateCommand("""
            INSERT INTO accounts (account, currency, list_book, subscription_start)
            SELECT 'acct-' || g, 'USD', 'edge-list', now() FROM generate_series(1, $1) g ON CONFLICT DO NOTHING
            """))
        {
            fill.Parameters.Add(new() { Value = accounts });
            fill.CommandTimeout = 0;
            await fill.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var started = Stopwatch.StartNew();
        await using var directory = await AccountDirectory.StartAsync(db, TimeSpan.FromMinutes(10), null, cancellationToken).ConfigureAwait(false);
        var firstLoad = started.Elapsed;
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        while (!directory.Listening || directory.Reloads < 2)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false); // the reload after LISTEN
        }

        var name = "acct-new-" + Guid.NewGuid().ToString("N")[..8];
        await using (var insert = db.CreateCommand("INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ($1, 'USD', 'edge-list', now())"))
        {
            insert.Parameters.Add(new() { Value = name });
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var committed = Stopwatch.StartNew();
        while (!directory.Contains(name))
        {
            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
        }

        return new Result(directory.Count, firstLoad, held / (double)directory.Count, committed.Elapsed, directory.LastReloadDuration);
    }
}
