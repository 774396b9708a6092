using System.Globalization;
using Metering.Ledger.Totals;
using Npgsql;
using StackExchange.Redis;

namespace Metering.Redis;

/// <summary>
/// Live usage counters in Redis: one hash per (account, billing period), <c>{prefix}live:{account}:{period start}</c>,
/// a field per SKU holding "count quantity amount currency" with the exact decimal strings of the committed
/// cumulative totals. Writing absolute values (not increments) makes a publish idempotent and exact; a Lua script
/// writes a field only if its record count is not lower than the stored one, so a late or replayed publish (or a
/// rebuild racing a flush) never moves a counter backwards. The hash expires 40 days after its period ends.
/// When a publish fails (Redis down) the counters are rebuilt from PostgreSQL's open-period totals as soon as Redis
/// answers again (and on every reconnect).
/// </summary>
public sealed class RedisLiveCounters : ILiveCounters
{
    private const string SetIfNewer = """
        for i = 1, #KEYS do
          local field, count, value, expireAt = ARGV[i * 4 - 3], tonumber(ARGV[i * 4 - 2]), ARGV[i * 4 - 1], ARGV[i * 4]
          local current = redis.call('HGET', KEYS[i], field)
          if (not current) or tonumber(string.match(current, '^%d+')) <= count then
            redis.call('HSET', KEYS[i], field, value)
          end
          redis.call('PEXPIREAT', KEYS[i], expireAt)
        end
        return #KEYS
        """;

    private readonly IDatabase _redis;
    private readonly NpgsqlDataSource? _ledger;
    private readonly string _prefix;
    private int _needsRebuild;
    private int _rebuilding;

    /// <summary>Counters under <paramref name="prefix"/>; <paramref name="ledger"/> (optional) is where rebuilds read from.</summary>
    public RedisLiveCounters(IConnectionMultiplexer redis, string prefix, NpgsqlDataSource? ledger)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis.GetDatabase();
        _prefix = prefix + "live:";
        _ledger = ledger;
        redis.ConnectionRestored += (_, _) => RequestRebuild();
    }

    /// <summary>True after a failed publish until a rebuild from PostgreSQL succeeded.</summary>
    public bool Stale => Volatile.Read(ref _needsRebuild) != 0;

    /// <summary>Rebuilds completed since start.</summary>
    public long Rebuilds => Interlocked.Read(ref _rebuilds);

    private long _rebuilds;

    /// <inheritdoc />
    public void Publish(IReadOnlyList<TotalChange> committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        if (committed.Count == 0)
        {
            return;
        }

        _ = PublishAndRecoverAsync([.. committed]);
    }

    private async Task PublishAndRecoverAsync(TotalChange[] committed)
    {
        if (await TryWriteAsync(committed.Select(c => (c.Account, c.Sku, c.PeriodStart, c.PeriodEnd, c.CountAfter, c.QuantityAfter, c.AmountAfter, c.Currency))).ConfigureAwait(false) && Stale)
        {
            RequestRebuild();
        }
    }

    /// <summary>Writes absolute totals (newer-wins); false when Redis did not take them (then a rebuild is due).</summary>
    public async Task<bool> TryWriteAsync(IEnumerable<(string Account, string Sku, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long Count, decimal Quantity, decimal Amount, string Currency)> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        try
        {
            foreach (var chunk in totals.Chunk(500))
            {
                var keys = new RedisKey[chunk.Length];
                var args = new RedisValue[chunk.Length * 4];
                for (var i = 0; i < chunk.Length; i++)
                {
                    var t = chunk[i];
                    keys[i] = Key(t.Account, t.PeriodStart);
                    args[i * 4] = t.Sku;
                    args[(i * 4) + 1] = t.Count;
                    args[(i * 4) + 2] = string.Create(CultureInfo.InvariantCulture, $"{t.Count} {t.Quantity} {t.Amount} {t.Currency.Trim()}");
                    args[(i * 4) + 3] = (t.PeriodEnd + TimeSpan.FromDays(40)).ToUnixTimeMilliseconds();
                }

                await _redis.ScriptEvaluateAsync(SetIfNewer, keys, args).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Volatile.Write(ref _needsRebuild, 1);
            return false;
        }
    }

    /// <summary>The live counters of <paramref name="account"/> in the period starting at <paramref name="periodStart"/>.</summary>
    public async Task<IReadOnlyList<LiveCounter>> ReadAsync(string account, DateTimeOffset periodStart)
    {
        var fields = await _redis.HashGetAllAsync(Key(account, periodStart)).ConfigureAwait(false);
        var counters = new List<LiveCounter>(fields.Length);
        foreach (var f in fields)
        {
            var parts = ((string)f.Value!).Split(' ');
            counters.Add(new LiveCounter(f.Name!, long.Parse(parts[0], CultureInfo.InvariantCulture),
                decimal.Parse(parts[1], CultureInfo.InvariantCulture), decimal.Parse(parts[2], CultureInfo.InvariantCulture), parts[3]));
        }

        counters.Sort((a, b) => string.CompareOrdinal(a.Sku, b.Sku));
        return counters;
    }

    /// <summary>
    /// Writes every open period's totals from PostgreSQL (newer-wins, so flushes racing the rebuild are safe);
    /// returns the number of totals written, or -1 when Redis or PostgreSQL failed (it stays due).
    /// </summary>
    public async Task<long> RebuildAsync(CancellationToken cancellationToken)
    {
        if (_ledger is null)
        {
            return 0;
        }

        Volatile.Write(ref _needsRebuild, 1);
        IReadOnlyList<OpenPeriodTotal> totals;
        try
        {
            totals = await TotalsQuery.OpenPeriodsAsync(_ledger, cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            return -1;
        }

        if (!await TryWriteAsync(totals.Select(t => (t.Account, t.Sku, t.PeriodStart, t.PeriodEnd, t.RecordCount, t.Quantity, t.Amount, t.Currency))).ConfigureAwait(false))
        {
            return -1;
        }

        Volatile.Write(ref _needsRebuild, 0);
        Interlocked.Increment(ref _rebuilds);
        return totals.Count;
    }

    private void RequestRebuild()
    {
        if (_ledger is null || Interlocked.Exchange(ref _rebuilding, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await RebuildAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref _rebuilding, 0);
            }
        });
    }

    private RedisKey Key(string account, DateTimeOffset periodStart) =>
        string.Create(CultureInfo.InvariantCulture, $"{_prefix}{account}:{periodStart.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}");
}
