using System.Diagnostics;
using Metering.Aggregates.Admission;
using Npgsql;

namespace Metering.Ledger.Accounts;

/// <summary>
/// The ids of the accounts in the <c>accounts</c> table, held in memory for admission's unknown-account policy
/// (<see cref="UnknownAccountPolicy.Reject"/>) and for the flush's auto-create (<see cref="FirstUsageAccounts"/>).
/// <para>Freshness: a background task LISTENs on <see cref="Channel"/> (migration 0013 notifies it when a transaction
/// that inserted or deleted accounts commits) and reloads then, and reloads every poll interval anyway (default
/// <see cref="DefaultPollInterval"/>), in case a notification was lost with its connection. An account created through
/// the API or the CLI is therefore visible here within one reload of its commit (milliseconds to a second, see
/// <see cref="LastReloadDuration"/>) while the listener is connected, and within the poll interval plus one reload
/// otherwise. When PostgreSQL is unreachable the last snapshot stays in use (an account is never deleted, so a stale
/// snapshot refuses at most the newest accounts) and <see cref="Failures"/> counts the attempts.</para>
/// <para>Confirmed misses (the engine's directory): an id the snapshot lacks is looked up in PostgreSQL before it is
/// called unknown, at most a given number of times a second, so an account the edge already admitted (its own
/// directory reloaded first) is not dead-lettered by an engine whose directory has not reloaded yet. Admission asks
/// once per account id and directory version, so a flood of made-up accounts costs at most the budget.</para>
/// <para>Thread-safe: <see cref="Contains"/> reads an immutable snapshot swapped atomically, no lock. Memory: one
/// string and one hash-set slot per account (measured in docs/api.md#accounts: about 100 bytes per 12-character id).</para>
/// </summary>
public sealed class AccountDirectory : IAccountDirectory, IAsyncDisposable
{
    /// <summary>The notification channel of account inserts and deletes (migration 0013).</summary>
    public const string Channel = "metering_accounts";

    /// <summary>How often the ids are reloaded without a notification (10 s).</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(10);

    // A burst of notifications (one per flush that created accounts) costs one reload per this, at least.
    private static readonly TimeSpan MinReloadSpacing = TimeSpan.FromMilliseconds(100);

    private readonly NpgsqlDataSource _db;
    private readonly TimeSpan _pollInterval;
    private readonly TextWriter? _log;
    private readonly CancellationTokenSource _stop = new();
    private AccountSnapshot _snapshot = new([], 0);
    private Task _refresher = Task.CompletedTask;
    private volatile bool _notified;
    private volatile bool _listening;
    private long _reloads;
    private long _failures;
    private long _lastReloadTicks;

    // Confirmed misses: accounts PostgreSQL had that the snapshot did not, until the next snapshot; a budget per second.
    private readonly int _confirmsPerSecond;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _confirmed = new(StringComparer.Ordinal);
    private readonly Lock _confirmLock = new();
    private long _confirmSecond;
    private int _confirmsThisSecond;
    private long _confirms;

    private AccountDirectory(NpgsqlDataSource db, TimeSpan pollInterval, TextWriter? log, int confirmsPerSecond)
    {
        _db = db;
        _pollInterval = pollInterval;
        _log = log;
        _confirmsPerSecond = confirmsPerSecond;
    }

    /// <summary>
    /// Loads the ids (a failure is thrown: start-up retries it) and starts the background refresh.
    /// <paramref name="pollInterval"/> (null: <see cref="DefaultPollInterval"/>) bounds the delay when notifications
    /// are lost; <paramref name="log"/> gets a line per refresh failure. <paramref name="confirmMissesPerSecond"/>
    /// (0 = none) is the budget of misses looked up in PostgreSQL (the engine: <see cref="EngineConfirmsPerSecond"/>).
    /// </summary>
    public static async Task<AccountDirectory> StartAsync(NpgsqlDataSource db, TimeSpan? pollInterval, TextWriter? log, CancellationToken cancellationToken, int confirmMissesPerSecond = 0)
    {
        ArgumentNullException.ThrowIfNull(db);
        var interval = pollInterval ?? DefaultPollInterval;
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromMilliseconds(100), nameof(pollInterval));
        ArgumentOutOfRangeException.ThrowIfNegative(confirmMissesPerSecond);
        var directory = new AccountDirectory(db, interval, log, confirmMissesPerSecond);
        await using (var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            await directory.ReloadAsync(connection, cancellationToken).ConfigureAwait(false);
        }

        directory._refresher = Task.Run(() => directory.RefreshLoopAsync(directory._stop.Token), CancellationToken.None);
        return directory;
    }

    /// <inheritdoc />
    public long Version => Volatile.Read(ref _snapshot).Version;

    /// <summary>The confirmed-miss budget of the engine's directory: misses looked up in PostgreSQL per second.</summary>
    public const int EngineConfirmsPerSecond = 100;

    /// <inheritdoc />
    public bool Contains(string account) =>
        Volatile.Read(ref _snapshot).Accounts.Contains(account) || (_confirmsPerSecond > 0 && Confirm(account));

    /// <summary>Misses looked up in PostgreSQL (found or not).</summary>
    public long Confirms => Interlocked.Read(ref _confirms);

    /// <summary>Accounts in the current snapshot.</summary>
    public int Count => Volatile.Read(ref _snapshot).Accounts.Count;

    /// <summary>The poll interval: the delay bound while notifications do not arrive.</summary>
    public TimeSpan PollInterval => _pollInterval;

    /// <summary>True while the background task holds a LISTENing connection.</summary>
    public bool Listening => _listening;

    /// <summary>Loads done (changed or not), the first included.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Refresh attempts that failed (PostgreSQL unreachable or refusing); the last snapshot stays in use.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>How long the last load took (it grows with the number of accounts).</summary>
    public TimeSpan LastReloadDuration => TimeSpan.FromTicks(Interlocked.Read(ref _lastReloadTicks));

    /// <summary>Stops the background refresh; the last snapshot stays readable.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _refresher.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }

        _stop.Dispose();
    }

    // The cold path of a miss: within the budget, ask PostgreSQL (synchronously: admission is synchronous, and a miss
    // is about to become a dead letter). Beyond the budget or on an error the snapshot's answer stands.
    private bool Confirm(string account)
    {
        if (_confirmed.ContainsKey(account))
        {
            return true;
        }

        lock (_confirmLock)
        {
            var second = Environment.TickCount64 / 1000;
            if (second != _confirmSecond)
            {
                (_confirmSecond, _confirmsThisSecond) = (second, 0);
            }

            if (_confirmsThisSecond >= _confirmsPerSecond)
            {
                return false;
            }

            _confirmsThisSecond++;
        }

        Interlocked.Increment(ref _confirms);
        try
        {
            using var connection = _db.OpenConnection();
            using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM accounts WHERE account = $1)", connection) { CommandTimeout = 5 };
            cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            if (cmd.ExecuteScalar() is true)
            {
                _confirmed[account] = true;
                return true;
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
        {
            Interlocked.Increment(ref _failures);
            _log?.WriteLine($"accounts: looking up account '{account}' failed ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); judged by the loaded accounts");
        }

        return false;
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                connection.Notification += (_, _) => _notified = true;
                await using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                _listening = true;
                backoff = TimeSpan.FromMilliseconds(250);
                while (true)
                {
                    // Reload after LISTEN took effect: whatever committed before it is in this load, whatever after
                    // it notifies. A notification that arrives during the load may not be in it: load again.
                    _notified = false;
                    await ReloadAsync(connection, cancellationToken).ConfigureAwait(false);
                    if (!_notified && !await connection.WaitAsync(_pollInterval, cancellationToken).ConfigureAwait(false))
                    {
                        continue; // the poll: nothing notified within the interval
                    }

                    await Task.Delay(TimeSpan.FromTicks(Math.Max(MinReloadSpacing.Ticks, Interlocked.Read(ref _lastReloadTicks))), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                // Infrastructure (PostgreSQL restarting, the connection broken): the last snapshot serves, retried.
                _listening = false;
                Interlocked.Increment(ref _failures);
                _log?.WriteLine($"accounts: refreshing the account directory failed ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); keeping the {Count:N0} accounts loaded, retrying in {backoff.TotalSeconds:0.##}s");
                try
                {
                    await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _pollInterval.Ticks));
            }
        }
    }

    private async Task ReloadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var old = Volatile.Read(ref _snapshot);
        var accounts = new HashSet<string>(old.Accounts.Count, StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT account FROM accounts", connection))
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                accounts.Add(reader.GetString(0));
            }
        }

        // A new version only when the set changed: admission drops its cached answers on every new version.
        if (old.Version == 0 || accounts.Count != old.Accounts.Count || !accounts.SetEquals(old.Accounts))
        {
            Volatile.Write(ref _snapshot, new AccountSnapshot(accounts, old.Version + 1));
            _confirmed.Clear(); // the new snapshot holds what was confirmed before its load; a later one is confirmed again
        }

        Interlocked.Increment(ref _reloads);
        Interlocked.Exchange(ref _lastReloadTicks, Stopwatch.GetElapsedTime(started).Ticks);
    }
}
