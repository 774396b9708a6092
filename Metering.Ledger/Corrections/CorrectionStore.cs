using System.Globalization;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Corrections;

/// <summary>
/// The <c>corrections</c> table (migration 0009): voids and amends of usage events by id, and manual credits and
/// debits. Writes are idempotent by the caller's key and audited (actor, reason, time); rows are never changed.
/// Corrections never touch <c>billing_period_totals</c>: each row names the period whose statement carries it
/// (<see cref="StoredCorrection.BookedPeriodStart"/>), read with <see cref="ForStatementAsync"/> and
/// <see cref="ForAccountsAsync"/>. Thread-safe (every call uses its own connection or the caller's).
/// </summary>
public static class CorrectionStore
{
    // The first key of the two-key advisory lock that serialises the corrections of one event ("CORR"); two-key locks
    // never collide with the one-key locks of period close and migrations.
    private const int EventLockClass = 0x434F5252;

    // The first key of the two-key advisory lock that serialises the corrections taking back usage of one account, SKU
    // and period ("CORQ"), so that together they never take back more than the ledger recorded.
    private const int RecordedLockClass = 0x434F5251;

    private const string Columns = "id, idempotency_key, account, kind, event_id, sku, event_time, original_period_start, booked_period_start, revision, " +
        "original_quantity, new_quantity, quantity_delta, amount, currency, actor, reason, created_at, dimension_group";

    /// <summary>
    /// Stores <paramref name="request"/> unless its idempotency key was used before (then replayed when the stored
    /// request is the same, an idempotency conflict naming the differing fields otherwise) or the ledger refuses it:
    /// <list type="bullet">
    /// <item>void and amend: an event time after <paramref name="now"/> or before now minus <paramref name="horizon"/>;
    /// an event already voided; an original quantity that is not the event's current one (its last amend's new
    /// quantity; the first correction of an event is trusted, the engine keeps no raw events); a SKU or event time
    /// that differs from the event's earlier corrections. Booked into the event's own period (under
    /// <paramref name="rule"/>) when that is open, else the first open period after it;</item>
    /// <item>credit and debit: a requested period that is not a period start or is closed. Booked into the requested
    /// period, or else the open period containing <paramref name="now"/> (or the first open one after it).</item>
    /// </list>
    /// Runs in one transaction holding <see cref="PeriodCloser.CloseLockKey"/> shared, so no period closes between
    /// choosing the booked period and the commit; corrections of one event are serialised by an advisory lock.
    /// </summary>
    /// <remarks>
    /// A void or amend of a SKU whose price (in <paramref name="prices"/>, at the event's period) groups by dimensions
    /// changes the usage line of the event's group: the group of <see cref="CorrectionRequest.Dimensions"/>, checked
    /// and stored with the row. Without <paramref name="prices"/> every correction is of the ungrouped line.
    /// </remarks>
    public static async Task<CorrectionWrite> WriteAsync(NpgsqlDataSource db, CorrectionRequest request, BillingPeriodRule rule, DateTimeOffset now, CorrectionHorizon horizon, CancellationToken cancellationToken,
        Rating.PriceBooks.PriceCatalog? prices = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(rule);
        var isEvent = request.Kind is CorrectionKind.Void or CorrectionKind.Amend;
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var closeLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", connection, tx))
        {
            closeLock.Parameters.Add(new() { Value = PeriodCloser.CloseLockKey });
            await closeLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (isEvent)
        {
            // Before the key lookup: a concurrent writer of the same key and event has committed (and is seen) or not started.
            await using var eventLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, hashtext($2))", connection, tx);
            eventLock.Parameters.Add(new() { Value = EventLockClass });
            eventLock.Parameters.Add(new() { Value = request.Account + "\n" + request.EventId, NpgsqlDbType = NpgsqlDbType.Text });
            await eventLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (await ByKeyAsync(connection, tx, request.IdempotencyKey, cancellationToken).ConfigureAwait(false) is { } earlier)
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return Replay(earlier, request);
        }

        // The account's periods: its own rule's when it has one (docs/statements.md, "Account billing periods").
        var periods = await AccountPeriodStore.LoadAsync(connection, tx, rule, [request.Account], cancellationToken).ConfigureAwait(false);
        var accountRule = periods.RuleOf(request.Account);
        BillingPeriod NextOpen(BillingPeriod period) => periods.IsClosed(request.Account, period.Start) ? periods.NextOpen(request.Account, period) : period;

        DateTimeOffset? originalPeriod = null;
        int? revision = null;
        var group = Rating.PeriodTotals.DimensionGroup.None;
        DateTimeOffset? priceFrom = null;
        BillingPeriod booked;
        if (isEvent)
        {
            var eventTime = request.EventTime!.Value;
            if (eventTime > now)
            {
                return Refused("future_event", "event_time", $"{Instant(eventTime)} is in the future (now {Instant(now)}); a correction names an event that was sent");
            }

            if (eventTime < now - horizon.Length)
            {
                return Refused("outside_horizon", "event_time",
                    $"{Instant(eventTime)} is older than the correction horizon of {horizon.Length.TotalDays:0.##} days (events since {Instant(now - horizon.Length)}); book a credit or debit instead");
            }

            var own = accountRule.PeriodOf(eventTime);
            if (prices?.Resolve(request.Account, request.Sku!, eventTime) is { IsPriced: true } resolved && resolved.Price!.NeedsTransactions)
            {
                // Such a line is billed as the engine rated its records one by one, in order (usage_transactions);
                // taking one away would re-price the others, which a correction of the total cannot do.
                return Refused("rated_per_transaction", "sku",
                    $"SKU '{request.Sku}' is rated per transaction ('{resolved.Book!.Id}' version '{resolved.Version!.Version}': per-transaction bounds or free transactions); a void or amend cannot re-price its other transactions: book a credit or debit instead");
            }

            if (prices?.Resolve(request.Account, request.Sku!, eventTime) is { IsPriced: true } metered && !metered.Price!.Meter.IsSum)
            {
                // The statement bills the meter's quantity of the period's records (meter_states); a correction is a
                // delta of a sum, which a max, a gauge's integral or a p95 does not move by (docs/meters.md, "Corrections").
                return Refused("metered_not_correctable", "sku",
                    $"SKU '{request.Sku}' is metered by {metered.Price.Meter.AggregationName} ('{metered.Book!.Id}' version '{metered.Version!.Version}'); a void or amend of one event cannot move a metered quantity: book a credit or debit instead");
            }

            group = GroupOf(prices, request, own);
            priceFrom = SegmentOf(prices, request, own, eventTime);
            var last = await LastOfEventAsync(connection, tx, request.Account, request.EventId!, cancellationToken).ConfigureAwait(false);
            if (last is not null)
            {
                if (last.Kind == CorrectionKind.Void)
                {
                    return Refused("already_voided", "event_id", $"event '{request.EventId}' of account '{request.Account}' was voided by correction {last.Id}; nothing can follow a void");
                }

                if (last.Group != group)
                {
                    return Refused("event_mismatch", "dimensions",
                        $"event '{request.EventId}' was corrected before (correction {last.Id}) in dimension group {Shown(last.Group)}, not {Shown(group)}; name its dimensions the same way");
                }

                if (last.Sku != request.Sku || last.EventTime != eventTime)
                {
                    return Refused("event_mismatch", last.Sku != request.Sku ? "sku" : "event_time",
                        $"event '{request.EventId}' was corrected before (correction {last.Id}) as SKU '{last.Sku}' at {Instant(last.EventTime!.Value)}; name it the same way");
                }

                if (last.NewQuantity != request.OriginalQuantity)
                {
                    return Refused("quantity_mismatch", "original_quantity",
                        $"event '{request.EventId}' has quantity {CorrectionRequest.Quantity(last.NewQuantity!.Value)} since correction {last.Id}, not {CorrectionRequest.Quantity(request.OriginalQuantity!.Value)}; send original_quantity {CorrectionRequest.Quantity(last.NewQuantity!.Value)}");
                }
            }

            var takesBack = request.NewQuantity!.Value - request.OriginalQuantity!.Value;
            var isVoid = request.Kind == CorrectionKind.Void;
            if (isVoid || takesBack < 0)
            {
                // A statement rates the period's recorded quantity plus its corrections and cannot bill a negative one:
                // a correction that took back more than was recorded would make the period unbillable. A void also
                // takes back one record (even of quantity 0), an amend only quantity.
                var held = await RecordedAsync(connection, tx, request.Account, request.Sku!, own.Start, group, priceFrom, cancellationToken).ConfigureAwait(false);
                var recordsLeft = held.Records - (isVoid ? 1 : 0);
                if (held.Quantity + takesBack < 0 || recordsLeft < 0)
                {
                    return Refused("exceeds_recorded", "original_quantity",
                        $"the ledger recorded {CorrectionRequest.Quantity(held.RecordedQuantity)} in {held.RecordedRecords} record(s) of SKU '{request.Sku}'{(group.Length == 0 ? "" : " dimension group " + group)} for account '{request.Account}' in period {own} " +
                        $"(period total and late usage), {CorrectionRequest.Quantity(held.Quantity)} in {held.Records} after its earlier corrections; " +
                        $"this {CorrectionRequest.KindName(request.Kind)} of event '{request.EventId}' would leave {CorrectionRequest.Quantity(held.Quantity + takesBack)}" +
                        (isVoid ? $" in {recordsLeft} record(s)" : "") + "; a correction cannot take back more than was recorded");
                }
            }

            revision = (last?.Revision ?? 0) + 1;
            originalPeriod = own.Start;
            booked = NextOpen(own);
        }
        else if (request.Period is { } periodStart)
        {
            booked = accountRule.PeriodOf(periodStart);
            var named = booked.Start == periodStart;
            if (!named && !ReferenceEquals(accountRule, rule) && accountRule.PeriodLabelledBy(new BillingPeriod(periodStart, periodStart.AddDays(1))) is { } labelled)
            {
                booked = labelled; // a date names the account's period starting on that day on its own clock
                named = true;
            }

            if (!named)
            {
                return Refused("not_a_period_start", "period", $"{Instant(periodStart)} is not the start of a billing period (the period containing it is {booked})");
            }

            if (periods.IsClosed(request.Account, booked.Start))
            {
                return Refused("period_closed", "period", $"period {booked} is closed: its statement is final; leave period out to book into the open period");
            }
        }
        else
        {
            booked = NextOpen(accountRule.PeriodOf(now));
        }

        await using var insert = new NpgsqlCommand($"""
            INSERT INTO corrections (idempotency_key, account, kind, event_id, sku, event_time, original_period_start, booked_period_start, revision,
              original_quantity, new_quantity, quantity_delta, amount, currency, actor, reason, dimension_group, price_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING {Columns}
            """, connection, tx);
        var p = insert.Parameters;
        p.Add(new() { Value = request.IdempotencyKey, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = request.Account, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = CorrectionRequest.KindName(request.Kind), NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = (object?)request.EventId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = (object?)request.Sku ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = (object?)request.EventTime ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new() { Value = (object?)originalPeriod ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new() { Value = booked.Start, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new() { Value = (object?)revision ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        p.Add(new() { Value = (object?)request.OriginalQuantity ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new() { Value = (object?)request.NewQuantity ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new() { Value = request.NewQuantity - request.OriginalQuantity is { } delta ? delta : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new() { Value = (object?)request.Amount ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Numeric });
        p.Add(new() { Value = (object?)request.Currency ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Char });
        p.Add(new() { Value = request.Actor, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = request.Reason, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = group, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new() { Value = (object?)priceFrom ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var created = await ReadOneAsync(insert, cancellationToken).ConfigureAwait(false);
        if (created is null)
        {
            // A concurrent request with the same key committed first (the insert waited for it): answer as its replay.
            var winner = await ByKeyAsync(connection, tx, request.IdempotencyKey, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"idempotency key '{request.IdempotencyKey}' neither inserted nor found; corrections are never deleted");
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return Replay(winner, request);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new CorrectionWrite(CorrectionWriteStatus.Created, created, null, []);
    }

    /// <summary>
    /// The corrections of <paramref name="account"/>, newest first: up to <paramref name="limit"/> (1-10,000) with an
    /// id below <paramref name="before"/> (null: from the newest). Keyset pagination on the id, so a page costs the
    /// same wherever it is and corrections added meanwhile never shift the older pages.
    /// </summary>
    public static async Task<CorrectionPage> ListAsync(NpgsqlDataSource db, string account, long? before, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrEmpty(account);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var cmd = db.CreateCommand($"""
            SELECT {Columns} FROM corrections
            WHERE account = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
            ORDER BY id DESC LIMIT $3
            """);
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        var rows = await ReadAllAsync(cmd, cancellationToken).ConfigureAwait(false);
        if (rows.Count <= limit)
        {
            return new CorrectionPage(rows, null);
        }

        rows.RemoveAt(limit);
        return new CorrectionPage(rows, rows[^1].Id);
    }

    /// <summary>The corrections of <paramref name="account"/> booked into the period starting at <paramref name="bookedPeriodStart"/>, oldest first.</summary>
    public static async Task<IReadOnlyList<StoredCorrection>> ForStatementAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string account, DateTimeOffset bookedPeriodStart, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(account);
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM corrections WHERE account = $1 AND booked_period_start = $2 ORDER BY id", connection, tx);
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = bookedPeriodStart.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await ReadAllAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every correction booked into the period starting at <paramref name="bookedPeriodStart"/>, by account (bytewise order), each account's oldest first.</summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<StoredCorrection>>> ForAccountsAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, DateTimeOffset bookedPeriodStart, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM corrections WHERE booked_period_start = $1 ORDER BY account, id", connection, tx);
        cmd.Parameters.Add(new() { Value = bookedPeriodStart.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var byAccount = new SortedDictionary<string, IReadOnlyList<StoredCorrection>>(StringComparer.Ordinal);
        foreach (var row in await ReadAllAsync(cmd, cancellationToken).ConfigureAwait(false))
        {
            if (!byAccount.TryGetValue(row.Account, out var list))
            {
                byAccount[row.Account] = list = new List<StoredCorrection>();
            }

            ((List<StoredCorrection>)list).Add(row);
        }

        return byAccount;
    }

    /// <summary>The request fields (the API's names) in which <paramref name="request"/> differs from the stored <paramref name="stored"/>; the actor is not compared.</summary>
    internal static List<string> Differences(StoredCorrection stored, CorrectionRequest request)
    {
        var fields = new List<string>();
        void Check(bool same, string field)
        {
            if (!same)
            {
                fields.Add(field);
            }
        }

        Check(stored.Account == request.Account, "account");
        Check(stored.Kind == request.Kind, "kind");
        Check(stored.EventId == request.EventId, "event_id");
        Check(stored.Sku == request.Sku, "sku");
        // The stored group names its keys: the request's dimensions must give them the same values.
        Check(stored.Group.Length == 0 || Rating.PeriodTotals.DimensionGroup.Of([.. Rating.PeriodTotals.DimensionGroup.Pairs(stored.Group).Select(p => p.Key)], request.Dimensions) == stored.Group, "dimensions");
        Check(stored.EventTime == request.EventTime, "event_time");
        Check(stored.OriginalQuantity == request.OriginalQuantity, "original_quantity");
        Check(stored.NewQuantity == request.NewQuantity, "new_quantity");
        Check(stored.Amount == request.Amount, "amount");
        Check(stored.Currency == request.Currency, "currency");
        // A request without a period is booked wherever the clock put it; one with a period was booked exactly there.
        Check(request.Period is null || request.Period == stored.BookedPeriodStart, "period");
        Check(stored.Reason == request.Reason, "reason");
        return fields;
    }

    private static CorrectionWrite Replay(StoredCorrection stored, CorrectionRequest request)
    {
        var differences = Differences(stored, request);
        return differences.Count == 0
            ? new CorrectionWrite(CorrectionWriteStatus.Replayed, stored, null, [])
            : new CorrectionWrite(CorrectionWriteStatus.IdempotencyConflict, stored, null, differences);
    }

    private static CorrectionWrite Refused(string code, string field, string message) =>
        new(CorrectionWriteStatus.Refused, null, new CorrectionRefusal(code, field, message), []);

    /// <summary>The dimension group a void or amend changes: its dimensions under the group_by of the SKU's price at the event's period.</summary>
    private static string GroupOf(Rating.PriceBooks.PriceCatalog? prices, CorrectionRequest request, BillingPeriod own) =>
        Rating.PeriodTotals.DimensionGroup.Of(prices?.Resolve(request.Account, request.Sku!, own.Start).Price?.GroupBy ?? [], request.Dimensions);

    private static string Shown(string group) => group.Length == 0 ? "(none)" : group;

    private static string Instant(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static async Task<StoredCorrection?> ByKeyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string key, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM corrections WHERE idempotency_key = $1", connection, tx);
        cmd.Parameters.Add(new() { Value = key, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadOneAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    // The price segment of an event (docs/pricebooks.md): the version taking effect inside its period at or before its
    // time; null before any (priced from the period's start). Versions take effect on whole hours, which are window
    // boundaries, so this is the segment the engine booked the event's window into.
    private static DateTimeOffset? SegmentOf(Rating.PriceBooks.PriceCatalog? prices, CorrectionRequest request, BillingPeriod own, DateTimeOffset eventTime)
    {
        if (prices is null)
        {
            return null;
        }

        DateTimeOffset? from = null;
        foreach (var segment in prices.Segments(request.Account, request.Sku!, own).Skip(1))
        {
            if (segment.From <= eventTime)
            {
                from = segment.From;
            }
        }

        return from;
    }

    /// <summary>
    /// What the ledger holds for (<paramref name="account"/>, <paramref name="sku"/>) in the period starting at
    /// <paramref name="periodStart"/> (its dimension group and price segment): its period total plus the late usage of the period (adjustments), and that less
    /// the earlier corrections of the period (their quantity deltas; one record per void). Takes a transaction-scoped
    /// lock on the three first, so that two corrections taking back usage of different events of one SKU and period
    /// cannot both pass against the same total; usage arriving meanwhile only adds.
    /// </summary>
    private static async Task<Recorded> RecordedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string account, string sku, DateTimeOffset periodStart, string group, DateTimeOffset? priceFrom, CancellationToken cancellationToken)
    {
        await using (var periodLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, hashtext($2))", connection, tx))
        {
            periodLock.Parameters.Add(new() { Value = RecordedLockClass });
            periodLock.Parameters.Add(new() { Value = account + "\n" + sku + "\n" + Instant(periodStart) + "\n" + group + (priceFrom is { } f ? "\n" + Instant(f) : ""), NpgsqlDbType = NpgsqlDbType.Text });
            await periodLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var cmd = new NpgsqlCommand("""
            SELECT t.quantity + l.quantity, (t.records + l.records)::bigint, c.delta, c.voids
            FROM (SELECT coalesce(sum(quantity), 0) AS quantity, coalesce(sum(record_count), 0) AS records
                  FROM billing_period_totals WHERE account = $1 AND sku = $2 AND period_start = $3 AND dimension_group = $4 AND price_from = coalesce($5, $3)) t,
                 (SELECT coalesce(sum(quantity), 0) AS quantity, coalesce(sum(record_count), 0) AS records
                  FROM adjustments WHERE account = $1 AND sku = $2 AND original_period_start = $3 AND dimension_group = $4 AND price_from IS NOT DISTINCT FROM $5) l,
                 (SELECT coalesce(sum(quantity_delta), 0) AS delta, count(*) FILTER (WHERE kind = 'void') AS voids
                  FROM corrections WHERE account = $1 AND sku = $2 AND original_period_start = $3 AND dimension_group = $4 AND price_from IS NOT DISTINCT FROM $5) c
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = sku, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = periodStart.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = group, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)priceFrom?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var quantity = reader.GetDecimal(0);
        var records = reader.GetInt64(1);
        return new Recorded(quantity, records, quantity + reader.GetDecimal(2), records - reader.GetInt64(3));
    }

    private static async Task<StoredCorrection?> LastOfEventAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string account, string eventId, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM corrections WHERE account = $1 AND event_id = $2 ORDER BY revision DESC LIMIT 1", connection, tx);
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = eventId, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadOneAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<StoredCorrection?> ReadOneAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static async Task<List<StoredCorrection>> ReadAllAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        var rows = new List<StoredCorrection>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(Read(reader));
        }

        return rows;
    }

    private static StoredCorrection Read(NpgsqlDataReader r)
    {
        DateTimeOffset? Time(int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
        decimal? Number(int i) => r.IsDBNull(i) ? null : r.GetDecimal(i);
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        var kind = CorrectionRequest.ParseKind(r.GetString(3))
            ?? throw new InvalidDataException($"correction {r.GetInt64(0)} has kind '{r.GetString(3)}', which this version does not know");
        return new StoredCorrection(r.GetInt64(0), r.GetString(1), r.GetString(2), kind, Text(4), Text(5), Time(6), Time(7), r.GetFieldValue<DateTimeOffset>(8),
            r.IsDBNull(9) ? null : r.GetInt32(9), Number(10), Number(11), Number(12), Number(13), Text(14)?.Trim(), r.GetString(15), r.GetString(16), r.GetFieldValue<DateTimeOffset>(17))
        {
            Group = r.GetString(18),
        };
    }
}
