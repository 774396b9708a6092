using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Quotas;
using Metering.Ledger.Totals;
using Metering.Rating.Incremental;
using Metering.Rating.PriceBooks;
using Metering.Rating.Periods;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Flush;

/// <summary>
/// Makes a <see cref="FlushBatch"/> durable in ONE PostgreSQL transaction: the partitions' next offsets (fenced:
/// each must still be at the offset the batch started from), the rated billing-period totals, the rated windows
/// (outbox), the conservation counters, the dead letters and the newly seen ids. Either all of it commits or none,
/// so a crash at any instant replays exactly what was not committed.
/// Rating is incremental: each window's charge is round(price(cumulative after)) - round(price(cumulative before)),
/// with the cumulative state read (FOR UPDATE) from the totals inside the transaction.
/// </summary>
public sealed class LedgerWriter(NpgsqlDataSource dataSource, string consumerGroup, string topic, RecordCatalog catalog, TumblingWindows windows, PriceCatalog? prices)
{
    private readonly BillingPeriodRule _periods = prices?.List?.Periods ?? BillingPeriodRule.CalendarMonth;

    /// <summary>Commits <paramref name="batch"/>; throws <see cref="FencedException"/> when a partition moved on elsewhere.</summary>
    public async Task WriteAsync(FlushBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", connection, tx))
        {
            // Shared with other flushes, exclusive against `period close` (see PeriodCloser).
            lockCmd.Parameters.Add(new() { Value = PeriodCloser.CloseLockKey });
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await AdvanceOffsetsAsync(connection, tx, batch.Partitions, cancellationToken).ConfigureAwait(false);
        batch.TotalChanges.Clear();
        if (batch.Rows.Count > 0)
        {
            await RateAndStoreAsync(connection, tx, batch.Rows, batch.Catalog ?? catalog, batch.TotalChanges, cancellationToken).ConfigureAwait(false);
        }

        await AddConservationAsync(connection, tx, batch.Partitions, cancellationToken).ConfigureAwait(false);
        if (batch.Partitions.Any(p => p.Gaps.Count > 0))
        {
            await StoreGapsAsync(connection, tx, batch.Partitions.SelectMany(p => p.Gaps).ToList(), cancellationToken).ConfigureAwait(false);
        }
        if (batch.DeadLetters.Count > 0)
        {
            await StoreDeadLettersAsync(connection, tx, batch.DeadLetters, cancellationToken).ConfigureAwait(false);
        }

        if (batch.SeenIds.Count > 0)
        {
            await StoreSeenIdsAsync(connection, tx, batch.SeenIds, cancellationToken).ConfigureAwait(false);
        }

        await QuotaEvaluator.EvaluateAsync(connection, tx, batch.TotalChanges, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next offsets PostgreSQL holds for this group and topic (where partitions resume).</summary>
    public async Task<Dictionary<int, long>> LoadOffsetsAsync(CancellationToken cancellationToken)
    {
        await using var cmd = dataSource.CreateCommand("SELECT partition, next_offset FROM consumed_offsets WHERE consumer_group = $1 AND topic = $2");
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var offsets = new Dictionary<int, long>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            offsets[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return offsets;
    }

    private async Task AdvanceOffsetsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<PartitionProgress> partitions, CancellationToken cancellationToken)
    {
        // One statement for all partitions. The fence: an existing row moves only if it still holds the offset this
        // batch started from; a partition never seen before may be inserted. Any partition not returned was fenced.
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO consumed_offsets AS c (consumer_group, topic, partition, next_offset)
            SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[]) AS t(p, n)
            ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
            WHERE c.next_offset = (SELECT s FROM unnest($3::int[], $5::bigint[]) AS f(p, s) WHERE f.p = c.partition)
            RETURNING partition
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(Array(partitions.Select(p => p.Partition)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.NextOffset)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.StartOffset)));
        var moved = new HashSet<int>();
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                moved.Add(reader.GetInt32(0));
            }
        }

        if (partitions.FirstOrDefault(p => !moved.Contains(p.Partition)) is { } fenced)
        {
            throw new FencedException($"partition {topic}[{fenced.Partition}] is no longer at offset {fenced.StartOffset} in PostgreSQL: another consumer committed it");
        }
    }

    private sealed record TotalKey(string Account, string Sku, DateTimeOffset PeriodStart);

    private sealed class Total
    {
        public required BillingPeriod Period;

        /// <summary>For late usage of a closed period: the open period the adjustment is booked in; else null.</summary>
        public DateTimeOffset? BookedIn;

        /// <summary>Late usage only: this flush's quantity, count and charge for the adjustment line.</summary>
        public decimal LateQuantity;
        public long LateCount;
        public decimal LateAmount;
        public DateTimeOffset FirstWindow = DateTimeOffset.MaxValue;
        public DateTimeOffset LastWindowEnd = DateTimeOffset.MinValue;

        /// <summary>Cumulative quantity, count and charge before this batch (for <see cref="TotalChange"/>).</summary>
        public (decimal Quantity, long Count, decimal Charged) Before;
        public PeriodRatingState State;
        public long Count;
        public string Currency = "XXX";
        public string Book = "unpriced";
        public string Version = "";
        public string Hash = "";
    }

    private async Task RateAndStoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<AggregateRow> rows, RecordCatalog names, List<TotalChange> changes, CancellationToken cancellationToken)
    {
        // Windows in time order so each (account, sku, period) is rated window after window.
        var ordered = rows.OrderBy(r => r.WindowIndex).ToList();
        var totals = new Dictionary<TotalKey, Total>();
        foreach (var r in ordered)
        {
            var start = windows.Start(r.WindowIndex);
            var period = _periods.PeriodOf(start);
            totals.TryAdd(new TotalKey(names.Accounts.GetString(r.AccountId), names.Skus.GetString(r.SkuId), period.Start), new Total { Period = period });
        }

        // Late usage: a window whose period is closed is rated on top of that period's frozen total plus the adjustments
        // already booked for it, and booked as an adjustment line in the next open period (the policy in docs/ledger.md).
        var closed = await PeriodCloser.ClosedAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        foreach (var (key, total) in totals)
        {
            if (closed.Contains(key.PeriodStart))
            {
                var open = _periods.PeriodOf(total.Period.End);
                while (closed.Contains(open.Start))
                {
                    open = _periods.PeriodOf(open.End);
                }

                total.BookedIn = open.Start;
            }
        }

        await LoadTotalsAsync(connection, tx, totals, cancellationToken).ConfigureAwait(false);
        foreach (var total in totals.Values)
        {
            total.Before = (total.State.Quantity, total.Count, total.State.Charged); // what the batch moves from
        }
        if (totals.Values.Any(t => t.BookedIn is not null))
        {
            await LoadAdjustmentsAsync(connection, tx, totals, cancellationToken).ConfigureAwait(false);
        }

        var windowAccount = new string[ordered.Count];
        var windowSku = new string[ordered.Count];
        var windowStart = new DateTime[ordered.Count];
        var windowEnd = new DateTime[ordered.Count];
        var windowDims = new string[ordered.Count];
        var windowQuantity = new decimal[ordered.Count];
        var windowCount = new long[ordered.Count];
        var windowAmount = new decimal[ordered.Count];
        var windowCurrency = new string[ordered.Count];
        var windowHash = new string[ordered.Count];
        var windowPeriod = new DateTime[ordered.Count];
        for (var i = 0; i < ordered.Count; i++)
        {
            var r = ordered[i];
            var start = windows.Start(r.WindowIndex);
            var key = new TotalKey(names.Accounts.GetString(r.AccountId), names.Skus.GetString(r.SkuId), _periods.PeriodOf(start).Start);
            var total = totals[key];
            if (!FixedPoint.TryToDecimal(r.SumNanos, out var quantity))
            {
                throw new OverflowException($"{key.Account}/{key.Sku}: window quantity {FixedPoint.Format(r.SumNanos)} exceeds numeric(38,9)");
            }

            decimal charge = 0;
            var resolution = prices?.Resolve(key.Account, key.Sku, total.Period.Start);
            if (resolution is { IsPriced: true } priced && !priced.Price!.NeedsTransactions)
            {
                var book = priced.Book!;
                charge = WindowRater.RateWindow(priced.Price, ref total.State, quantity, r.Count, book.Currency.MinorUnits, book.Rounding);
                total.Currency = book.Currency.Code;
                total.Book = book.Id;
                total.Version = priced.Version!.Version;
                total.Hash = priced.Version.Hash;
            }
            else
            {
                // Unpriced usage is still metered exactly; its amount stays 0 and the row says so (price_book = unpriced).
                total.State.Quantity += quantity;
                total.State.Transactions += r.Count;
            }

            total.Count += r.Count;
            if (total.BookedIn is not null)
            {
                total.LateQuantity += quantity;
                total.LateCount += r.Count;
                total.LateAmount += charge;
                total.FirstWindow = start < total.FirstWindow ? start : total.FirstWindow;
                total.LastWindowEnd = start + windows.Length > total.LastWindowEnd ? start + windows.Length : total.LastWindowEnd;
            }

            windowAccount[i] = key.Account;
            windowSku[i] = key.Sku;
            windowStart[i] = start.UtcDateTime;
            windowEnd[i] = (start + windows.Length).UtcDateTime;
            windowDims[i] = DimensionsJson(names, r.DimensionSetId);
            windowQuantity[i] = quantity;
            windowCount[i] = r.Count;
            windowAmount[i] = charge;
            windowCurrency[i] = total.Currency;
            windowHash[i] = total.Hash;
            windowPeriod[i] = key.PeriodStart.UtcDateTime;
        }

        // A total outside the ledger's range could be stored (numeric(38,9) holds 10^29) but not always read back into a
        // decimal, and then every later flush of its key would fail: refuse it here, as a data fault, so isolation
        // dead-letters the records that push it over (docs/ledger.md).
        foreach (var (key, total) in totals)
        {
            if (!Rating.Money.LedgerDecimal.FitsMagnitude(total.State.Quantity) || !Rating.Money.LedgerDecimal.FitsMagnitude(total.State.Charged))
            {
                throw new OverflowException($"{key.Account}/{key.Sku} period {key.PeriodStart:yyyy-MM-dd}: quantity {total.State.Quantity} or amount {total.State.Charged} would leave the ledger's range ({Rating.Money.LedgerDecimal.RangeText})");
            }
        }

        await using (var upsert = new NpgsqlCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::bigint[], $7::numeric[], $8::text[], $9::text[], $10::text[], $11::text[])
            ON CONFLICT (account, sku, period_start) DO UPDATE SET
              quantity = EXCLUDED.quantity, record_count = EXCLUDED.record_count, amount = EXCLUDED.amount, currency = EXCLUDED.currency,
              price_book = EXCLUDED.price_book, price_book_version = EXCLUDED.price_book_version, price_book_hash = EXCLUDED.price_book_hash, updated_at = now()
            """, connection, tx))
        {
            var list = totals.Where(t => t.Value.BookedIn is null).ToList();
            upsert.Parameters.Add(Array(list.Select(t => t.Key.Account)));
            upsert.Parameters.Add(Array(list.Select(t => t.Key.Sku)));
            upsert.Parameters.Add(Array(list.Select(t => t.Key.PeriodStart.UtcDateTime)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Period.End.UtcDateTime)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.State.Quantity)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Count)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.State.Charged)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Currency)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Book)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Version)));
            upsert.Parameters.Add(Array(list.Select(t => t.Value.Hash)));
            await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var (key, total) in totals)
        {
            if (total.BookedIn is null)
            {
                var (quantity, count, amount) = total.Before;
                changes.Add(new TotalChange(key.Account, key.Sku, key.PeriodStart, total.Period.End, total.Currency,
                    quantity, total.State.Quantity, count, total.Count, amount, total.State.Charged));
            }
        }

        if (totals.Values.Any(t => t.BookedIn is not null))
        {
            await StoreAdjustmentsAsync(connection, tx, totals.Where(t => t.Value.BookedIn is not null).ToList(), cancellationToken).ConfigureAwait(false);
        }

        // The outbox can be large (one row per window): binary COPY, inside the same transaction.
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY rated_windows (account, sku, window_start, window_end, dimensions, quantity, record_count, amount, currency, price_book_hash, period_start) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false))
        {
            // Synchronous writes into Npgsql's buffer: an await per field costs more than the field (11 per row).
            for (var i = 0; i < ordered.Count; i++)
            {
                copy.StartRow();
                copy.Write(windowAccount[i], NpgsqlDbType.Text);
                copy.Write(windowSku[i], NpgsqlDbType.Text);
                copy.Write(windowStart[i], NpgsqlDbType.TimestampTz);
                copy.Write(windowEnd[i], NpgsqlDbType.TimestampTz);
                copy.Write(windowDims[i], NpgsqlDbType.Jsonb);
                copy.Write(windowQuantity[i], NpgsqlDbType.Numeric);
                copy.Write(windowCount[i], NpgsqlDbType.Bigint);
                copy.Write(windowAmount[i], NpgsqlDbType.Numeric);
                copy.Write(windowCurrency[i], NpgsqlDbType.Char);
                copy.Write(windowHash[i], NpgsqlDbType.Text);
                copy.Write(windowPeriod[i], NpgsqlDbType.TimestampTz);
            }

            await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task LoadTotalsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Dictionary<TotalKey, Total> totals, CancellationToken cancellationToken)
    {
        var keys = totals.Keys.ToList();
        await using var cmd = new NpgsqlCommand("""
            SELECT b.account, b.sku, b.period_start, b.quantity, b.record_count, b.amount, b.currency, b.price_book, b.price_book_version, b.price_book_hash
            FROM billing_period_totals b
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(a, s, p) ON b.account = k.a AND b.sku = k.s AND b.period_start = k.p
            FOR UPDATE OF b
            """, connection, tx);
        cmd.Parameters.Add(Array(keys.Select(k => k.Account)));
        cmd.Parameters.Add(Array(keys.Select(k => k.Sku)));
        cmd.Parameters.Add(Array(keys.Select(k => k.PeriodStart.UtcDateTime)));
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = new TotalKey(reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero));
            var t = totals[key];
            t.State.Quantity = reader.GetDecimal(3);
            t.Count = reader.GetInt64(4);
            t.State.Transactions = t.Count;
            t.State.Charged = reader.GetDecimal(5);
            t.Currency = reader.GetString(6);
            t.Book = reader.GetString(7);
            t.Version = reader.GetString(8);
            t.Hash = reader.GetString(9);
        }
    }

    /// <summary>Adds the adjustments already booked for closed periods to their totals' state (the rating base).</summary>
    private static async Task LoadAdjustmentsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Dictionary<TotalKey, Total> totals, CancellationToken cancellationToken)
    {
        var keys = totals.Where(t => t.Value.BookedIn is not null).Select(t => t.Key).ToList();
        await using var cmd = new NpgsqlCommand("""
            SELECT a.account, a.sku, a.original_period_start, sum(a.quantity), sum(a.record_count)::bigint, sum(a.amount)
            FROM adjustments a
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(a, s, p) ON a.account = k.a AND a.sku = k.s AND a.original_period_start = k.p
            GROUP BY a.account, a.sku, a.original_period_start
            """, connection, tx);
        cmd.Parameters.Add(Array(keys.Select(k => k.Account)));
        cmd.Parameters.Add(Array(keys.Select(k => k.Sku)));
        cmd.Parameters.Add(Array(keys.Select(k => k.PeriodStart.UtcDateTime)));
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var t = totals[new TotalKey(reader.GetString(0), reader.GetString(1), new DateTimeOffset(reader.GetDateTime(2), TimeSpan.Zero))];
            t.State.Quantity += reader.GetDecimal(3);
            t.Count += reader.GetInt64(4);
            t.State.Transactions = t.Count;
            t.State.Charged += reader.GetDecimal(5);
        }
    }

    private static async Task StoreAdjustmentsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<KeyValuePair<TotalKey, Total>> late, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::bigint[], $7::numeric[], $8::text[], $9::text[], $10::text[])
            """, connection, tx);
        cmd.Parameters.Add(Array(late.Select(t => t.Key.Account)));
        cmd.Parameters.Add(Array(late.Select(t => t.Key.Sku)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.BookedIn!.Value.UtcDateTime)));
        cmd.Parameters.Add(Array(late.Select(t => t.Key.PeriodStart.UtcDateTime)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.LateQuantity)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.LateCount)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.LateAmount)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.Currency)));
        cmd.Parameters.Add(Array(late.Select(t => t.Value.Hash)));
        cmd.Parameters.Add(Array(late.Select(t => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"late usage for closed period {t.Value.Period}, windows {t.Value.FirstWindow:O}..{t.Value.LastWindowEnd:O}"))));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task AddConservationAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<PartitionProgress> partitions, CancellationToken cancellationToken)
    {
        var quantities = new decimal[partitions.Count];
        for (var i = 0; i < partitions.Count; i++)
        {
            if (!FixedPoint.TryToDecimal(partitions[i].AcceptedNanos, out quantities[i]))
            {
                throw new OverflowException($"partition {partitions[i].Partition}: accepted quantity exceeds numeric(38,9)");
            }
        }

        await using var cmd = new NpgsqlCommand("""
            INSERT INTO conservation AS c (consumer_group, topic, partition, read, accepted, duplicates, rejected, accepted_quantity)
            SELECT $1, $2, p, r, a, d, j, q FROM unnest($3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::numeric[]) AS t(p, r, a, d, j, q)
            ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
              read = c.read + EXCLUDED.read, accepted = c.accepted + EXCLUDED.accepted,
              duplicates = c.duplicates + EXCLUDED.duplicates, rejected = c.rejected + EXCLUDED.rejected,
              accepted_quantity = c.accepted_quantity + EXCLUDED.accepted_quantity
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(Array(partitions.Select(p => p.Partition)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.Read)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.Accepted)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.Duplicates)));
        cmd.Parameters.Add(Array(partitions.Select(p => p.Rejected)));
        cmd.Parameters.Add(new NpgsqlParameter { Value = quantities });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StoreGapsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<OffsetGap> gaps, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO offset_gaps (consumer_group, topic, partition, from_offset, to_offset)
            SELECT $1, $2, p, f, t FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS g(p, f, t)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(Array(gaps.Select(g => g.Partition)));
        cmd.Parameters.Add(Array(gaps.Select(g => g.From)));
        cmd.Parameters.Add(Array(gaps.Select(g => g.To)));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StoreDeadLettersAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<KafkaDeadLetter> letters, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO dead_letters (source, partition, "offset", reason, detail, raw)
            SELECT $1, p, o, r, d, w FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::bytea[]) AS t(p, o, r, d, w)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = "kafka:" + topic });
        cmd.Parameters.Add(Array(letters.Select(l => l.Partition)));
        cmd.Parameters.Add(Array(letters.Select(l => l.Offset)));
        cmd.Parameters.Add(Array(letters.Select(l => l.Reason)));
        cmd.Parameters.Add(Array(letters.Select(l => l.Detail)));
        cmd.Parameters.Add(new NpgsqlParameter { Value = letters.Select(l => l.Raw).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StoreSeenIdsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<(UInt128 Fingerprint, long TimeTicks)> ids, CancellationToken cancellationToken)
    {
        var blob = new byte[ids.Count * 24];
        long maxTicks = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(blob.AsSpan(i * 24, 16), ids[i].Fingerprint);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(blob.AsSpan((i * 24) + 16, 8), ids[i].TimeTicks);
            maxTicks = Math.Max(maxTicks, ids[i].TimeTicks);
        }

        await using var cmd = new NpgsqlCommand("INSERT INTO seen_id_batches (consumer_group, topic, max_event_time, fingerprints) VALUES ($1, $2, $3, $4)", connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = new DateTime(maxTicks, DateTimeKind.Utc) });
        cmd.Parameters.Add(new() { Value = blob });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replays the persisted ids within <paramref name="horizon"/> of the newest into a fresh dedup horizon.</summary>
    public async Task<Metering.Aggregates.Dedup.DedupHorizon> LoadDedupAsync(TimeSpan horizon, int maxEntries, CancellationToken cancellationToken)
    {
        var entries = new List<(UInt128, long)>();
        await using (var cmd = dataSource.CreateCommand("""
            SELECT fingerprints FROM seen_id_batches
            WHERE consumer_group = $1 AND topic = $2
              AND max_event_time >= (SELECT max(max_event_time) FROM seen_id_batches WHERE consumer_group = $1 AND topic = $2) - $3::interval
            """))
        {
            cmd.Parameters.Add(new() { Value = consumerGroup });
            cmd.Parameters.Add(new() { Value = topic });
            cmd.Parameters.Add(new() { Value = horizon });
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var blob = (byte[])reader[0];
                for (var i = 0; i + 24 <= blob.Length; i += 24)
                {
                    entries.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(blob.AsSpan(i, 16)), System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(blob.AsSpan(i + 16, 8))));
                }
            }
        }

        // In event-time order, so the horizon's watermark advances as it did when the ids were first seen.
        entries.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        var dedup = new Metering.Aggregates.Dedup.DedupHorizon(horizon, maxEntries);
        foreach (var (fingerprint, ticks) in entries)
        {
            dedup.Check(fingerprint, ticks);
        }

        return dedup;
    }

    private static string DimensionsJson(RecordCatalog names, int dimensionSetId)
    {
        if (dimensionSetId == 0)
        {
            return "{}";
        }

        var pairs = names.DescribeDimensions(dimensionSetId).ToDictionary(p => p.Key, p => p.Value);
        return System.Text.Json.JsonSerializer.Serialize(pairs, StreamingJson.Default.DictionaryStringString);
    }

    private static NpgsqlParameter Array<T>(IEnumerable<T> values) => new() { Value = values.ToArray() };
}
