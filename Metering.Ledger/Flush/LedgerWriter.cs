using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.PriceBooks;
using Metering.Ledger.Quotas;
using Metering.Ledger.Totals;
using Metering.Rating.PeriodTotals;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// Makes a <see cref="FlushBatch"/> durable in ONE PostgreSQL transaction: the partitions' next offsets (fenced:
/// each must still be at the offset the batch started from), the rated billing-period totals, the rated windows
/// (outbox), the conservation counters, the dead letters and the newly seen ids. Either all of it commits or none,
/// so a crash at any instant replays exactly what was not committed.
/// Rating is the billing policy of <see cref="PeriodTotalsRater"/> (incremental: each window's charge is
/// round(price(cumulative after)) - round(price(cumulative before))), on the cumulative state read (FOR UPDATE) from
/// the totals inside the transaction; this type and its parts hold only the SQL. Each flush rates with ONE catalog,
/// taken from <paramref name="prices"/> inside its transaction (<see cref="PriceCatalogSource.ForFlushAsync"/>): a
/// version published before the flush took its lock prices it, one published while it runs waits for its commit.
/// </summary>
public sealed class LedgerWriter(NpgsqlDataSource dataSource, string consumerGroup, string topic, RecordCatalog catalog, TumblingWindows windows, PriceCatalogSource prices)
{
    private readonly PartitionProgressStore _progress = new(consumerGroup, topic);
    private readonly DeadLetterStore _deadLetters = new(topic);
    private readonly SeenIdStore _seenIds = new(consumerGroup, topic);

    /// <summary>The outbox's Arrow encoder compiled off the flush path, while the engine still joins its group.</summary>
    private readonly Task _outboxWarmUp = Task.Run(Outbox.RatedWindowArrow.WarmUp);

    /// <summary>Creates, in the flush, the accounts it books usage for that have no row (unknown-account policy auto); null = none.</summary>
    public Accounts.FirstUsageAccounts? NewAccounts { get; init; }

    /// <summary>
    /// The open totals this writer last committed (<see cref="TotalsCache"/>): flushes rate on them instead of reading
    /// them back. The engine forgets them on every rebalance, rewind and data fault (<see cref="ForgetTotals"/>).
    /// </summary>
    public TotalsCache Totals { get; } = new();

    /// <summary>The meter states of the open totals in <see cref="Totals"/> (docs/meters.md), forgotten with them.</summary>
    public MeterStateCache MeterStates { get; } = new();

    /// <summary>Forgets the cached totals: the next flush reads every total it touches from PostgreSQL.</summary>
    public void ForgetTotals()
    {
        Totals.Clear();
        MeterStates.Clear();
    }

    /// <summary>Commits <paramref name="batch"/>; throws <see cref="FencedException"/> when a partition moved on elsewhere.</summary>
    public async Task WriteAsync(FlushBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var (totals, meters) = await WriteOnceAsync(batch, attempt == 1 ? Totals : null, cancellationToken).ConfigureAwait(false);
                Totals.Committed(totals);
                meters?.Committed(MeterStates);
                return;
            }
            catch (StaleTotalsException) when (attempt < 5)
            {
                // Another writer moved a total this flush rated on (cached, or inserted meanwhile): nothing was
                // committed; rate the batch again on what PostgreSQL holds now.
                ForgetTotals();
            }
            catch
            {
                // The flush changed the cached meter states it took (and may or may not have committed them): forget
                // them, so the next attempt reads what PostgreSQL holds.
                MeterStates.Clear();
                throw;
            }
        }
    }

    private async Task<(IReadOnlyList<PeriodTotalUpdate> Totals, MeterTotals? Meters)> WriteOnceAsync(FlushBatch batch, TotalsCache? cache, CancellationToken cancellationToken)
    {
        IReadOnlyList<PeriodTotalUpdate> totals = [];
        MeterTotals? meters = null;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", connection, tx))
        {
            // Shared with other flushes, exclusive against `period close` (see PeriodCloser).
            lockCmd.Parameters.Add(new() { Value = PeriodCloser.CloseLockKey });
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await _progress.AdvanceOffsetsAsync(connection, tx, batch.Partitions, cancellationToken).ConfigureAwait(false);
        batch.TotalChanges.Clear();
        if (batch.Rows.Count > 0)
        {
            (totals, meters) = await RateAndStoreAsync(connection, tx, batch, batch.Catalog ?? catalog, cache, cancellationToken).ConfigureAwait(false);
        }

        await _progress.AddConservationAsync(connection, tx, batch.Partitions, cancellationToken).ConfigureAwait(false);
        if (batch.Partitions.Any(p => p.Gaps.Count > 0))
        {
            await _progress.StoreGapsAsync(connection, tx, batch.Partitions.SelectMany(p => p.Gaps).ToList(), cancellationToken).ConfigureAwait(false);
        }
        if (batch.DeadLetters.Count > 0)
        {
            await _deadLetters.StoreAsync(connection, tx, batch.DeadLetters, cancellationToken).ConfigureAwait(false);
        }

        if (batch.SeenIds.Count > 0)
        {
            await _seenIds.StoreAsync(connection, tx, batch.SeenIds, cancellationToken).ConfigureAwait(false);
        }

        await QuotaEvaluator.EvaluateAsync(connection, tx, batch.TotalChanges, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (totals, meters);
    }

    /// <summary>The next offsets PostgreSQL holds for this group and topic (where partitions resume).</summary>
    public Task<Dictionary<int, long>> LoadOffsetsAsync(CancellationToken cancellationToken) => _progress.LoadOffsetsAsync(dataSource, cancellationToken);

    /// <summary>The lateness window's durable dedup store of this group and topic (the seen_id_blocks the flushes write).</summary>
    public SeenIdArchive Archive { get; } = new(dataSource, consumerGroup, topic);

    /// <summary>Replays the persisted ids within <paramref name="horizon"/> of the newest into a fresh dedup horizon.</summary>
    public Task<Metering.Aggregates.Dedup.DedupHorizon> LoadDedupAsync(TimeSpan horizon, int maxEntries, CancellationToken cancellationToken) =>
        _seenIds.LoadDedupAsync(dataSource, horizon, maxEntries, cancellationToken);

    /// <summary>Load the touched totals' state, rate the windows on it (pure), store the results: all in <paramref name="tx"/>.</summary>
    private async Task<(IReadOnlyList<PeriodTotalUpdate> Totals, MeterTotals Meters)> RateAndStoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, FlushBatch batch, RecordCatalog names,
        TotalsCache? cache, CancellationToken cancellationToken)
    {
        var (rows, kept, changes) = (batch.Rows, batch.Transactions, batch.TotalChanges);
        var keptByRow = KeptByRow(rows, kept, names);
        var transactions = keptByRow?.ToDictionary(k => k.Key, k => k.Value.ConvertAll(Transaction));
        var usage = new UsageWindow[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            var (account, sku) = (names.Accounts.GetString(r.AccountId), names.Skus.GetString(r.SkuId));
            if (!FixedPoint.TryToDecimal(r.SumNanos, out var quantity))
            {
                throw new OverflowException($"{account}/{sku}: window quantity {FixedPoint.Format(r.SumNanos)} exceeds numeric(38,9)");
            }

            var start = windows.Start(r.WindowIndex);
            // Kept dimensions go to the rater, which splits a total by them where the SKU's price groups by them.
            usage[i] = new UsageWindow(account, sku, start, start + windows.Length, quantity, r.Count,
                r.DimensionSetId == 0 ? null : names.DescribeDimensions(r.DimensionSetId), transactions?.GetValueOrDefault(i));
        }

        await (NewAccounts?.CreateMissingAsync(connection, tx, usage, cancellationToken) ?? Task.CompletedTask).ConfigureAwait(false);
        // Closed periods, the accounts' own period rules and the price books are read under the shared close lock, so
        // none closes, no rule changes and no version is published while this flush books into them.
        // ... and so are the accounts' billing currencies, which select the currency option each account is rated in.
        var accounts = usage.Select(u => u.Account).Distinct(StringComparer.Ordinal).ToArray();
        var catalog = await prices.ForFlushAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        var rater = new PeriodTotalsRater(await Accounts.AccountCurrencies.ForAccountsAsync(connection, tx, catalog, accounts, cancellationToken).ConfigureAwait(false));
        var periods = await AccountPeriodStore.LoadAsync(connection, tx, rater.Periods, accounts, cancellationToken).ConfigureAwait(false);
        var plan = rater.Plan(usage, periods);
        var (stored, booked, cached) = await PeriodTotalsStore.LoadAsync(connection, tx, plan, cancellationToken, cache).ConfigureAwait(false);
        var groupSums = await PeriodTotalsStore.LoadGroupSumsAsync(connection, tx, plan, cancellationToken).ConfigureAwait(false);
        var held = await PeriodTotalsStore.LoadTransactionsAsync(connection, tx, plan, cancellationToken).ConfigureAwait(false);
        var meters = await MeterTotals.BuildAsync(connection, tx, plan, rows, keptByRow, batch.MeterInputs, cached, cache is null ? null : MeterStates, cancellationToken).ConfigureAwait(false);
        var result = rater.Rate(plan, stored, booked, held, meters.Quantities);
        await PeriodTotalsStore.StoreAsync(connection, tx, result, stored, cancellationToken, meters.LateQuantityChange).ConfigureAwait(false);
        await PeriodTotalsStore.StoreTransactionsAsync(connection, result, cancellationToken).ConfigureAwait(false);
        await meters.StoreAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        AddTotalChanges(result.Totals, groupSums, changes);

        await _outboxWarmUp.ConfigureAwait(false); // done long before, as a rule; observes a failure
        await RatedWindowWriter.WriteAsync(connection, rows, usage, names, result, cancellationToken).ConfigureAwait(false);
        return (result.Totals, meters);
    }

    /// <summary>
    /// The records kept one by one (<see cref="FlushBatch.Transactions"/>: SKUs rated per transaction, and the SKUs of
    /// record meters) by the index of the row (window) they were aggregated into; null when there are none.
    /// </summary>
    private Dictionary<int, List<KeptTransaction>>? KeptByRow(IReadOnlyList<AggregateRow> rows, IReadOnlyList<KeptTransaction> kept, RecordCatalog names)
    {
        if (kept.Count == 0)
        {
            return null;
        }

        var rowOf = new Dictionary<(int, int, uint, int), int>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            rowOf[(rows[i].AccountId, rows[i].SkuId, rows[i].WindowIndex, rows[i].DimensionSetId)] = i;
        }

        var byRow = new Dictionary<int, List<KeptTransaction>>();
        foreach (var k in kept)
        {
            if (!rowOf.TryGetValue((k.AccountId, k.SkuId, windows.IndexOf(k.TimeTicks), k.DimensionSetId), out var row))
            {
                throw new InvalidOperationException($"a kept transaction of {names.Accounts.GetString(k.AccountId)}/{names.Skus.GetString(k.SkuId)} at {new DateTime(k.TimeTicks, DateTimeKind.Utc):O} has no aggregate row in its batch");
            }

            if (!byRow.TryGetValue(row, out var list))
            {
                byRow[row] = list = [];
            }

            list.Add(k);
        }

        return byRow;
    }

    private static UsageTransaction Transaction(KeptTransaction k)
    {
        _ = FixedPoint.TryToDecimal(k.QuantityNanos, out var amount); // one record's nanos always fit (a long)
        return UsageTransaction.FromTicks(k.TimeTicks, k.Fingerprint, amount);
    }

    /// <summary>
    /// The SKU totals this flush moved, for quotas and live counters: a whole total as it is; the parts (dimension
    /// groups, price segments) of a split SKU summed into one change per (account, SKU, period), from the sum over all its groups before the
    /// flush (<paramref name="groupSums"/>, so groups the flush did not touch count on both sides) plus the deltas.
    /// </summary>
    private static void AddTotalChanges(IReadOnlyList<PeriodTotalUpdate> totals, Dictionary<PeriodTotalKey, (decimal Quantity, long Count, decimal Amount)> groupSums, List<TotalChange> changes)
    {
        var grouped = new Dictionary<PeriodTotalKey, int>();
        foreach (var t in totals)
        {
            if (!t.IsPart)
            {
                changes.Add(new TotalChange(t.Key.Account, t.Key.Sku, t.Key.PeriodStart, t.PeriodEnd, t.Currency,
                    t.QuantityBefore, t.QuantityAfter, t.CountBefore, t.CountAfter, t.AmountBefore, t.AmountAfter));
                continue;
            }

            var sku = t.Key with { Group = DimensionGroup.None, PriceFrom = null };
            if (!grouped.TryGetValue(sku, out var i))
            {
                var (q, c, a) = groupSums.GetValueOrDefault(sku);
                i = changes.Count;
                grouped.Add(sku, i);
                changes.Add(new TotalChange(sku.Account, sku.Sku, sku.PeriodStart, t.PeriodEnd, t.Currency, q, q, c, c, a, a));
            }

            var s = changes[i];
            changes[i] = s with
            {
                Currency = t.Currency,
                QuantityAfter = s.QuantityAfter + (t.QuantityAfter - t.QuantityBefore),
                CountAfter = s.CountAfter + (t.CountAfter - t.CountBefore),
                AmountAfter = s.AmountAfter + (t.AmountAfter - t.AmountBefore),
            };
        }
    }
}
