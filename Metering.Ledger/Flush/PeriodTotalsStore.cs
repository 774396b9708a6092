using Metering.Rating.PeriodTotals;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The SQL of the billing-period totals in a flush transaction: reads the touched totals <c>FOR UPDATE</c> (and the
/// adjustments already booked for closed periods), then writes what <see cref="PeriodTotalsRater"/> made of them:
/// the open totals (<c>billing_period_totals</c>) and the late-usage lines (<c>adjustments</c>).
/// </summary>
internal static class PeriodTotalsStore
{
    /// <summary>The stored state of every total of <paramref name="plan"/>; for its late totals also the adjustments so far; and which came from the cache.</summary>
    /// <remarks>
    /// An open total found in <paramref name="cache"/> is not read: <see cref="StoreAsync"/> writes it only if it still
    /// holds the cached state. Every other total is read and locked <c>FOR UPDATE</c>.
    /// </remarks>
    public static async Task<(Dictionary<PeriodTotalKey, StoredPeriodTotal> Stored, Dictionary<PeriodTotalKey, BookedAdjustments> Booked, IReadOnlySet<PeriodTotalKey> Cached)> LoadAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsPlan plan, CancellationToken cancellationToken, TotalsCache? cache = null)
    {
        var cached = cache?.Find(plan.Totals.Where(t => !t.IsLate).Select(t => t.Key)) ?? [];
        var stored = await LoadTotalsAsync(connection, tx, plan.Totals.Select(t => t.Key).Where(k => !cached.ContainsKey(k)).ToList(), cancellationToken).ConfigureAwait(false);
        foreach (var (key, total) in cached)
        {
            stored.Add(key, total);
        }

        var late = plan.Totals.Where(t => t.IsLate).Select(t => t.Key).ToList();
        var booked = late.Count > 0
            ? await LoadAdjustmentsAsync(connection, tx, late, cancellationToken).ConfigureAwait(false)
            : [];
        return (stored, booked, cached.Keys.ToHashSet());
    }

    /// <summary>
    /// Writes the open totals and the late-usage adjustment lines of <paramref name="result"/>. A total that had a stored
    /// state (<paramref name="stored"/>: read, or cached) is updated only where the row still holds that state, a new one
    /// inserted only where no row exists; when any row does not match, throws <see cref="StaleTotalsException"/> (nothing
    /// is committed: the caller rates the flush again from PostgreSQL). So a flush never overwrites what another writer
    /// committed meanwhile, cached or not.
    /// </summary>
    /// <remarks><paramref name="meterChange"/>: a late metered total's meter quantity change (<see cref="MeterTotals.LateQuantityChange"/>), stored on its adjustment line.</remarks>
    public static async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsResult result, IReadOnlyDictionary<PeriodTotalKey, StoredPeriodTotal> stored, CancellationToken cancellationToken,
        Func<PeriodTotalKey, decimal?>? meterChange = null)
    {
        var updates = result.Totals.Where(t => stored.ContainsKey(t.Key)).ToList();
        var inserts = result.Totals.Where(t => !stored.ContainsKey(t.Key)).ToList();
        if (updates.Count > 0)
        {
            await using var update = new NpgsqlCommand("""
                UPDATE billing_period_totals b SET
                  quantity = k.quantity, record_count = k.record_count, amount = k.amount, currency = k.currency,
                  price_book = k.price_book, price_book_version = k.price_book_version, price_book_hash = k.price_book_hash,
                  last_window_start = GREATEST(b.last_window_start, k.last_window_start), updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::numeric[], $7::bigint[], $8::numeric[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
                            $14::numeric[], $15::bigint[], $16::numeric[])
                  AS k(account, sku, period_start, dimension_group, price_from, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash, last_window_start,
                       quantity_before, count_before, amount_before)
                WHERE b.account = k.account AND b.sku = k.sku AND b.period_start = k.period_start AND b.dimension_group = k.dimension_group AND b.price_from = k.price_from
                  AND b.quantity = k.quantity_before AND b.record_count = k.count_before AND b.amount = k.amount_before
                """, connection, tx);
            AddKeys(update, updates.Select(t => t.Key));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.QuantityAfter)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.CountAfter)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.AmountAfter)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.Currency)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.PriceBook)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.PriceBookVersion)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.PriceBookHash)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.LastWindowStart?.UtcDateTime)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.QuantityBefore)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.CountBefore)));
            update.Parameters.Add(ArrayParameter.Of(updates.Select(t => t.AmountBefore)));
            var updated = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (updated != updates.Count)
            {
                throw new StaleTotalsException($"{updates.Count - updated} of {updates.Count} totals no longer held the state this flush rated on");
            }
        }

        if (inserts.Count > 0)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash, dimension_group, price_from, last_window_start)
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::bigint[], $7::numeric[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])
                ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO NOTHING
                """, connection, tx);
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Key.Account)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Key.Sku)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Key.PeriodStart.UtcDateTime)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.PeriodEnd.UtcDateTime)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.QuantityAfter)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.CountAfter)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.AmountAfter)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Currency)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.PriceBook)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.PriceBookVersion)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.PriceBookHash)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Key.Group)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.Key.PricedFrom.UtcDateTime)));
            insert.Parameters.Add(ArrayParameter.Of(inserts.Select(t => t.LastWindowStart?.UtcDateTime)));
            var inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (inserted != inserts.Count)
            {
                throw new StaleTotalsException($"{inserts.Count - inserted} of {inserts.Count} new totals were written by another writer meanwhile");
            }
        }

        if (result.Adjustments.Count > 0)
        {
            await StoreAdjustmentsAsync(connection, tx, result.Adjustments, meterChange ?? (_ => null), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Before the flush writes, the (account, SKU, period) sums over every part (dimension group, price segment) of the
    /// split totals of <paramref name="plan"/> (quantity, record count, amount): what the SKU's total is for quotas and
    /// live counters, which look at the SKU, not its parts. Empty (no query) when the plan has no split total.
    /// </summary>
    public static async Task<Dictionary<PeriodTotalKey, (decimal Quantity, long Count, decimal Amount)>> LoadGroupSumsAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsPlan plan, CancellationToken cancellationToken)
    {
        var skus = plan.Totals.Where(t => t.IsPart && !t.IsLate).Select(t => t.Key with { Group = DimensionGroup.None, PriceFrom = null }).Distinct().ToList();
        var sums = new Dictionary<PeriodTotalKey, (decimal, long, decimal)>(skus.Count);
        if (skus.Count == 0)
        {
            return sums;
        }

        await using var cmd = new NpgsqlCommand("""
            SELECT b.account, b.sku, b.period_start, sum(b.quantity), sum(b.record_count)::bigint, sum(b.amount)
            FROM billing_period_totals b
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(a, s, p) ON b.account = k.a AND b.sku = k.s AND b.period_start = k.p
            GROUP BY b.account, b.sku, b.period_start
            """, connection, tx);
        cmd.Parameters.Add(ArrayParameter.Of(skus.Select(k => k.Account)));
        cmd.Parameters.Add(ArrayParameter.Of(skus.Select(k => k.Sku)));
        cmd.Parameters.Add(ArrayParameter.Of(skus.Select(k => k.PeriodStart.UtcDateTime)));
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = new PeriodTotalKey(reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero));
            sums[key] = (reader.GetDecimal(3), reader.GetInt64(4), reader.GetDecimal(5));
        }

        return sums;
    }

    /// <summary>
    /// The stored transactions of the totals of <paramref name="plan"/> rated per transaction (<see cref="PeriodTotalsPlan.TransactionKeys"/>),
    /// any order (the rater orders them). Empty (no query) when the plan has none. Their totals are locked by <see cref="LoadAsync"/>.
    /// </summary>
    public static async Task<Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>> LoadTransactionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsPlan plan, CancellationToken cancellationToken)
    {
        var keys = plan.TransactionKeys;
        var held = new Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>(keys.Count);
        if (keys.Count == 0)
        {
            return held;
        }

        await using var cmd = new NpgsqlCommand("""
            SELECT u.account, u.sku, u.period_start, u.dimension_group, u.price_from, u.event_time, u.fingerprint, u.amount
            FROM usage_transactions u
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON u.account = k.a AND u.sku = k.s AND u.period_start = k.p AND u.dimension_group = k.g AND u.price_from = k.f
            """, connection, tx);
        AddKeys(cmd, keys);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var lists = new Dictionary<PeriodTotalKey, List<UsageTransaction>>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3), reader.GetDateTime(4));
            if (!lists.TryGetValue(key, out var list))
            {
                lists[key] = list = [];
            }

            list.Add(UsageTransaction.FromTicks(reader.GetDateTime(5).Ticks, System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(reader.GetFieldValue<byte[]>(6)), reader.GetDecimal(7)));
        }

        foreach (var (key, list) in lists)
        {
            held[key] = list;
        }

        return held;
    }

    /// <summary>Stores the transactions a flush rated per transaction (<see cref="PeriodTotalsResult.Transactions"/>), binary COPY.</summary>
    public static async Task StoreTransactionsAsync(NpgsqlConnection connection, PeriodTotalsResult result, CancellationToken cancellationToken)
    {
        if (result.Transactions.Count == 0)
        {
            return;
        }

        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY usage_transactions (account, sku, period_start, dimension_group, price_from, event_time, fingerprint, amount) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false);
        var fingerprint = new byte[16];
        foreach (var (key, t) in result.Transactions)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(fingerprint, t.Fingerprint);
            await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(key.Account, NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(key.Sku, NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(key.PeriodStart.UtcDateTime, NpgsqlTypes.NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(key.Group, NpgsqlTypes.NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(key.PricedFrom.UtcDateTime, NpgsqlTypes.NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(t.Time.UtcDateTime, NpgsqlTypes.NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(fingerprint, NpgsqlTypes.NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(t.Amount, NpgsqlTypes.NpgsqlDbType.Numeric, cancellationToken).ConfigureAwait(false);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<PeriodTotalKey, StoredPeriodTotal>> LoadTotalsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<PeriodTotalKey> keys, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT b.account, b.sku, b.period_start, b.quantity, b.record_count, b.amount, b.currency, b.price_book, b.price_book_version, b.price_book_hash, b.dimension_group, b.price_from
            FROM billing_period_totals b
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON b.account = k.a AND b.sku = k.s AND b.period_start = k.p AND b.dimension_group = k.g AND b.price_from = k.f
            FOR UPDATE OF b
            """, connection, tx);
        AddKeys(cmd, keys);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal>(keys.Count);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(10), reader.GetDateTime(11));
            stored.Add(key, new StoredPeriodTotal(reader.GetDecimal(3), reader.GetInt64(4), reader.GetDecimal(5), reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9)));
        }

        return stored;
    }

    private static async Task<Dictionary<PeriodTotalKey, BookedAdjustments>> LoadAdjustmentsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<PeriodTotalKey> keys, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT a.account, a.sku, a.original_period_start, sum(a.quantity), sum(a.record_count)::bigint, sum(a.amount), a.dimension_group, coalesce(a.price_from, a.original_period_start)
            FROM adjustments a
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON a.account = k.a AND a.sku = k.s AND a.original_period_start = k.p AND a.dimension_group = k.g AND coalesce(a.price_from, a.original_period_start) = k.f
            GROUP BY 1, 2, 3, 7, 8
            """, connection, tx);
        AddKeys(cmd, keys);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var booked = new Dictionary<PeriodTotalKey, BookedAdjustments>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(6), reader.GetDateTime(7));
            booked.Add(key, new BookedAdjustments(reader.GetDecimal(3), reader.GetInt64(4), reader.GetDecimal(5)));
        }

        return booked;
    }

    private static async Task StoreAdjustmentsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<LateAdjustment> late, Func<PeriodTotalKey, decimal?> meterChange, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference, dimension_group, price_from, meter_quantity)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::bigint[], $7::numeric[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::numeric[])
            """, connection, tx);
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Key.Account)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Key.Sku)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.BookedIn.UtcDateTime)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Key.PeriodStart.UtcDateTime)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Quantity)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Count)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Amount)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Currency)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.PriceBookHash)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Reference)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Key.Group)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => a.Key.PriceFrom?.UtcDateTime)));
        cmd.Parameters.Add(ArrayParameter.Of(late.Select(a => meterChange(a.Key))));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // The five key columns of totals as parameters $n..$n+4 (account, sku, period_start, dimension_group, price_from),
    // the order every statement here joins them in.
    internal static void AddKeys(NpgsqlCommand cmd, IEnumerable<PeriodTotalKey> keys)
    {
        var list = keys as IReadOnlyCollection<PeriodTotalKey> ?? [.. keys];
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => k.Account)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => k.Sku)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => k.PeriodStart.UtcDateTime)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => k.Group)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => k.PricedFrom.UtcDateTime)));
    }

    // A total's key as stored: price_from is the period's start for the usage priced from it (PriceFrom null).
    internal static PeriodTotalKey Key(string account, string sku, DateTime periodStart, string group, DateTime priceFrom)
    {
        var start = new DateTimeOffset(periodStart, TimeSpan.Zero);
        var from = new DateTimeOffset(priceFrom, TimeSpan.Zero);
        return new PeriodTotalKey(account, sku, start, group, from == start ? null : from);
    }
}
