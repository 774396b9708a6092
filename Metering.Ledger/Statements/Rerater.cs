using System.Data;
using System.Security.Cryptography;
using System.Text;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>
/// Re-rates a closed period under draft price books (docs/statements.md, "Re-rating"): for every account with a final
/// statement in it (or one account), the final statement rebuilt with the period's late usage booked so far (the rows
/// the assembler books it from: <c>adjustments</c> whose original period it is, and the voids and amends of it booked
/// after it) under the billing books, against the
/// same under the draft books (<see cref="Rerating.Compute"/>). <see cref="PreviewAsync"/> writes nothing;
/// <see cref="ApplyAsync"/> books the lines into <c>booked_adjustments</c> of the first open period after it, where the
/// assembler puts them on that period's statement.
/// </summary>
public static class Rerater
{
    /// <summary>
    /// Serializes applies with each other (exclusive, transaction-scoped), so two applies never both see a period as not
    /// yet re-rated, and a replay always sees the batch its key wrote: "rerate" in ASCII.
    /// </summary>
    public const long ApplyLockKey = 0x726572617465;

    /// <summary>The longest reason and idempotency key accepted, in UTF-8 bytes (the table's CHECKs).</summary>
    public const int MaxReasonBytes = 1000;

    /// <summary>The longest idempotency key accepted, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 200;

    /// <summary>The longest actor accepted, in UTF-8 bytes.</summary>
    public const int MaxActorBytes = 256;

    /// <summary>
    /// The re-rate of <paramref name="period"/> (a closed period) under <paramref name="draft"/>, against the period as
    /// billed under <paramref name="billing"/>, for every account with a final statement in it or only
    /// <paramref name="account"/>. Reads in one repeatable-read transaction and writes nothing. Throws
    /// <see cref="RerateException"/> for an open period or no final statement.
    /// </summary>
    public static async Task<RerateResult> PreviewAsync(NpgsqlDataSource db, BillingPeriod period, PriceCatalog billing, PriceCatalog draft, string? account,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(billing);
        ArgumentNullException.ThrowIfNull(draft);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var rule = billing.List?.Periods ?? BillingPeriodRule.CalendarMonth;
        var (accounts, _) = await CompareAsync(connection, tx, period, rule, billing, draft, account, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new RerateResult(period, accounts, accounts.Count, null);
    }

    /// <summary>
    /// Computes the re-rate as <see cref="PreviewAsync"/> does and books every account's <see cref="RerateAccountResult.ToBook"/>
    /// lines into the first open period after <paramref name="period"/> under <paramref name="rule"/>, as one batch named
    /// by the request's idempotency key (or a generated one), in one transaction that holds the close lock shared (no
    /// period closes meanwhile). The same key again replays: nothing is written and the stored batch is returned; a key
    /// used for another request (period, account, books) is refused. Refused too, writing nothing: an open period, the
    /// billing books not reproducing a final statement, and an account whose period is already re-rated unless
    /// <see cref="RerateApplyRequest.Force"/>.
    /// </summary>
    public static async Task<RerateResult> ApplyAsync(NpgsqlDataSource db, BillingPeriod period, BillingPeriodRule rule, PriceCatalog billing, PriceCatalog draft, string? account,
        RerateApplyRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(billing);
        ArgumentNullException.ThrowIfNull(draft);
        ArgumentNullException.ThrowIfNull(request);
        CheckText(request.Reason, MaxReasonBytes, "reason");
        CheckText(request.Actor, MaxActorBytes, "actor");
        if (request.IdempotencyKey is not null)
        {
            CheckText(request.IdempotencyKey, MaxKeyBytes, "idempotency key");
        }

        var fingerprint = Fingerprint(period, account, billing, draft);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // Read committed: the locks are taken by the first statements, and every later statement must see what was
        // committed while it waited (a repeatable-read snapshot would be taken before the wait). The inputs are safe
        // under it: final statements never change, the late usage is one statement, the closed periods cannot change
        // under the shared close lock and earlier re-rates not under the apply lock.
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2)", connection, tx))
        {
            lockCmd.Parameters.Add(new() { Value = PeriodCloser.CloseLockKey });
            lockCmd.Parameters.Add(new() { Value = ApplyLockKey });
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (request.IdempotencyKey is { } key && await ReplayAsync(connection, tx, rule, key, fingerprint, cancellationToken).ConfigureAwait(false) is { } replay)
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return replay;
        }

        var (accounts, owns) = await CompareAsync(connection, tx, period, rule, billing, draft, account, cancellationToken).ConfigureAwait(false);
        var mismatched = accounts.Where(a => !a.BaselineMatchesFinal).Select(a => a.Account).ToList();
        if (mismatched.Count > 0)
        {
            throw new RerateException(RerateRefusal.BillingBooksMismatch,
                $"the billing price books do not reproduce the final statement of {Names(mismatched)} in {period}: give the books the period was billed with (--billing-pricebook), or the difference would not be against what was billed");
        }

        var rerated = accounts.Where(a => a.EarlierApplied.Count > 0).Select(a => a.Account).ToList();
        if (rerated.Count > 0 && !request.Force)
        {
            throw new RerateException(RerateRefusal.AlreadyRerated,
                $"{period} is already re-rated for {Names(rerated)}: applying again needs force, which takes back the earlier re-rate lines and books the new difference");
        }

        // Each account's lines go into its own first open period after the period re-rated (an account with a period
        // rule of its own has its own, docs/statements.md "Account billing periods"); the batch names the list book's.
        var periods = await AccountPeriodStore.LoadAsync(connection, tx, rule, [.. accounts.Select(a => a.Account)], cancellationToken).ConfigureAwait(false);
        var into = periods.NextOpen("\u0000list", period);
        var batch = request.IdempotencyKey ?? "rr_" + Guid.NewGuid().ToString("N");
        var createdAt = await InsertBatchAsync(connection, tx, batch, period, into, account, fingerprint, accounts.Count, request, cancellationToken).ConfigureAwait(false);
        var rows = accounts.SelectMany(a => a.ToBook.Select(l => (a.Account, Line: l, Own: owns[a.Account], Into: periods.NextOpen(a.Account, owns[a.Account])))).ToList();
        if (rows.Count > 0)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO booked_adjustments (account, booked_period_start, kind, reference, sku, quantity, amount, currency, reason, actor, batch, original_period_start, dimension_group)
                SELECT a, b, 'rerate', r, s, q, m, c, w, $1, $2, o, g
                FROM unnest($3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[])
                  WITH ORDINALITY AS l(a, r, s, q, m, c, w, b, o, g, n)
                ORDER BY n
                """, connection, tx);
            insert.Parameters.Add(new() { Value = request.Actor });
            insert.Parameters.Add(new() { Value = batch });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Account).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Reference).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Sku).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Quantity).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Numeric });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Amount).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Currency).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Reason).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Into.Start.ToUniversalTime()).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Own.Start.ToUniversalTime()).ToArray() });
            insert.Parameters.Add(new() { Value = rows.Select(r => r.Line.Group).ToArray() });
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new RerateResult(period, accounts, accounts.Count, new RerateApplication(batch, false, into, rows.Count, request.Reason, request.Actor, request.Force, createdAt));
    }

    /// <summary>
    /// The re-rate of every account with a final statement in <paramref name="period"/> (a list-book period), or of
    /// <paramref name="account"/>: the accounts without a period rule of their own in it, and the accounts of each rule
    /// group in the group's period that <paramref name="period"/>'s close closed (skipped while that is still open).
    /// Returns the results and each account's own period.
    /// </summary>
    private static async Task<(List<RerateAccountResult> Results, Dictionary<string, BillingPeriod> Owns)> CompareAsync(NpgsqlConnection connection, NpgsqlTransaction tx,
        BillingPeriod period, BillingPeriodRule rule, PriceCatalog billing, PriceCatalog draft, string? account, CancellationToken cancellationToken)
    {
        var targets = new List<(PeriodRuleGroup? Group, BillingPeriod Own)>();
        if (account is not null)
        {
            var periods = await AccountPeriodStore.LoadAsync(connection, tx, rule, [account], cancellationToken).ConfigureAwait(false);
            var accountRule = periods.RuleOf(account);
            var own = ReferenceEquals(accountRule, rule) ? period : accountRule.PeriodLabelledBy(period) ?? period;
            if (!periods.IsClosed(account, own.Start))
            {
                throw new RerateException(RerateRefusal.OpenPeriod,
                    $"period {own} of account '{account}' is open: re-rating is for finalised periods (its draft statement already follows the books); close it first");
            }

            targets.Add((null, own));
        }
        else
        {
            var listPeriods = await AccountPeriodStore.LoadAsync(connection, tx, rule, [], cancellationToken).ConfigureAwait(false);
            if (!listPeriods.ListClosed.Contains(period.Start))
            {
                throw new RerateException(RerateRefusal.OpenPeriod,
                    $"period {period} is open: re-rating is for finalised periods (its draft statement already follows the books); close it first");
            }

            targets.Add((null, period));
            foreach (var group in await AccountPeriodStore.GroupsAsync(connection, tx, cancellationToken).ConfigureAwait(false))
            {
                if (group.RuleOf(rule).PeriodLabelledBy(period) is { } own)
                {
                    targets.Add((group, own));
                }
            }
        }

        // Final statements exist only for closed periods, so a group period still open contributes none.
        var finals = new List<Statement>();
        foreach (var (group, own) in targets)
        {
            var inGroup = account is not null ? "true" : AccountPeriodStore.InGroupSql("s.account", group, 3);
            await using var cmd = new NpgsqlCommand($"""
                SELECT s.id, s.canonical, s.content_hash FROM statements s WHERE s.period_start = $1 AND ($2::text IS NULL OR s.account = $2::text) AND {inGroup} ORDER BY s.account
                """, connection, tx);
            cmd.Parameters.Add(new() { Value = own.Start.ToUniversalTime() });
            cmd.Parameters.Add(new() { Value = (object?)account ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            if (account is null && group is not null)
            {
                cmd.Parameters.Add(new() { Value = group.AnchorKey });
                cmd.Parameters.Add(new() { Value = group.ZoneKey });
            }

            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                finals.Add(StatementReads.Read(r.GetInt64(0), r.GetString(1), r.GetString(2)));
            }
        }

        finals.Sort((a, b) => string.CompareOrdinal(a.Account, b.Account));
        if (finals.Count == 0)
        {
            throw new RerateException(RerateRefusal.NoFinalStatement, account is null
                ? $"period {period} has no final statement (it was closed without price books): there is nothing to re-rate"
                : $"account '{account}' has no final statement in {targets[0].Own}: there is nothing to re-rate");
        }

        var owns = finals.ToDictionary(f => f.Account, f => f.Period, StringComparer.Ordinal);
        var names = finals.Select(f => f.Account).ToArray();
        // The period as billed so far: its late usage and the voids and amends of it booked after it, wherever booked.
        var changes = await StatementReads.UsageChangesAsync(connection, tx, [.. finals.Select(f => (f.Account, f.Period.Start))], null, cancellationToken).ConfigureAwait(false);
        var late = changes.ToDictionary(kv => kv.Key.Item1, kv => kv.Value, StringComparer.Ordinal);

        var earlier = new Dictionary<string, List<AdjustmentLine>>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("""
            SELECT account, reference, sku, quantity, amount, trim(currency), reason, dimension_group FROM booked_adjustments
            WHERE kind = 'rerate' AND (account, original_period_start) IN (SELECT * FROM unnest($2::text[], $1::timestamptz[])) ORDER BY id
            """, connection, tx))
        {
            cmd.Parameters.Add(new() { Value = finals.Select(f => f.Period.Start.ToUniversalTime()).ToArray() });
            cmd.Parameters.Add(new() { Value = names });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var a = r.GetString(0);
                if (!earlier.TryGetValue(a, out var rows))
                {
                    earlier[a] = rows = [];
                }

                rows.Add(LineOf(r, 1));
            }
        }

        var results = new List<RerateAccountResult>(finals.Count);
        foreach (var final in finals)
        {
            var difference = Rerating.Compute(final, late.GetValueOrDefault(final.Account) ?? [], billing, draft);
            if (difference.Recomputed.Usage.FirstOrDefault(u => u.UnpricedReason == Rating.Statements.UsageLine.TransactionsRequired &&
                    difference.Baseline.Usage.Any(b => b.Priced && b.Sku == u.Sku && b.Group == u.Group)) is { } lost)
            {
                throw new RerateException(RerateRefusal.RatedPerTransaction,
                    $"{final.Account} {final.Period}: the draft changes the price of SKU '{lost.Sku}', which is rated per transaction; re-rating it needs its single transactions, which re-rating does not read yet: book a credit or debit for the difference instead");
            }

            var before = earlier.GetValueOrDefault(final.Account) ?? [];
            var toBook = before.Count == 0 ? difference.Lines : Rerating.Net(before, difference.Lines);
            results.Add(new RerateAccountResult(final.Account, difference.Lines, before, toBook, difference.Baseline, difference.Recomputed,
                difference.BaselineMatchesFinal));
        }

        return (results, owns);
    }

    private static async Task<RerateResult?> ReplayAsync(NpgsqlConnection connection, NpgsqlTransaction tx, BillingPeriodRule rule, string key, string fingerprint,
        CancellationToken cancellationToken)
    {
        BillingPeriod period;
        RerateApplication application;
        int compared;
        await using (var cmd = new NpgsqlCommand("""
            SELECT period_start, booked_period_start, fingerprint, accounts_compared, reason, actor, forced, created_at FROM rerate_batches WHERE batch = $1
            """, connection, tx))
        {
            cmd.Parameters.Add(new() { Value = key });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            period = rule.PeriodOf(r.GetFieldValue<DateTimeOffset>(0));
            if (r.GetString(2) != fingerprint)
            {
                throw new RerateException(RerateRefusal.KeyReused,
                    $"idempotency key '{key}' was used for another re-rate (of {period}, with other books or accounts): use a new key for a new re-rate");
            }

            compared = r.GetInt32(3);
            application = new RerateApplication(key, true, rule.PeriodOf(r.GetFieldValue<DateTimeOffset>(1)), 0, r.GetString(4), r.GetString(5), r.GetBoolean(6), r.GetFieldValue<DateTimeOffset>(7));
        }

        var lines = new List<(string Account, AdjustmentLine Line)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT account, reference, sku, quantity, amount, trim(currency), reason, dimension_group FROM booked_adjustments WHERE batch = $1 AND kind = 'rerate' ORDER BY id
            """, connection, tx))
        {
            cmd.Parameters.Add(new() { Value = key });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lines.Add((r.GetString(0), LineOf(r, 1)));
            }
        }

        var accounts = lines.GroupBy(l => l.Account, StringComparer.Ordinal).Select(g =>
        {
            var booked = g.Select(l => l.Line).ToList();
            return new RerateAccountResult(g.Key, booked, [], booked, null, null, true);
        }).ToList();
        return new RerateResult(period, accounts, compared, application with { LinesBooked = lines.Count });
    }

    private static async Task<DateTimeOffset> InsertBatchAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string batch, BillingPeriod period, BillingPeriod into, string? account,
        string fingerprint, int compared, RerateApplyRequest request, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO rerate_batches (batch, period_start, period_end, booked_period_start, account, fingerprint, accounts_compared, reason, actor, forced)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING created_at
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = batch });
        cmd.Parameters.Add(new() { Value = period.Start.ToUniversalTime() });
        cmd.Parameters.Add(new() { Value = period.End.ToUniversalTime() });
        cmd.Parameters.Add(new() { Value = into.Start.ToUniversalTime() });
        cmd.Parameters.Add(new() { Value = (object?)account ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = fingerprint });
        cmd.Parameters.Add(new() { Value = compared });
        cmd.Parameters.Add(new() { Value = request.Reason });
        cmd.Parameters.Add(new() { Value = request.Actor });
        cmd.Parameters.Add(new() { Value = request.Force });
        return (DateTimeOffset)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is DateTime t ? new DateTimeOffset(t, TimeSpan.Zero) : throw new InvalidOperationException("no created_at"));
    }

    private static AdjustmentLine LineOf(NpgsqlDataReader r, int at) => new(AdjustmentLine.Rerate, r.GetString(at), r.IsDBNull(at + 1) ? null : r.GetString(at + 1),
        r.IsDBNull(at + 2) ? null : r.GetDecimal(at + 2), r.GetDecimal(at + 3), r.GetString(at + 4), r.GetString(at + 5)) { Group = r.GetString(at + 6) };

    /// <summary>
    /// What identifies a re-rate request for its idempotency key: the period, the account filter and every version
    /// hash of the billing and draft books. The same key with another fingerprint is another request.
    /// </summary>
    private static string Fingerprint(BillingPeriod period, string? account, PriceCatalog billing, PriceCatalog draft)
    {
        var text = new StringBuilder();
        text.Append("rerate|1\n").Append(period.ToString()).Append('\n').Append(account ?? "\\-").Append('\n');
        foreach (var (side, catalog) in new[] { ("billing", billing), ("draft", draft) })
        {
            foreach (var book in (catalog.List is null ? catalog.Contracts : catalog.Contracts.Prepend(catalog.List)).OrderBy(b => b.IsContract).ThenBy(b => b.Id, StringComparer.Ordinal))
            {
                text.Append(side).Append('|').Append(book.Id);
                foreach (var v in book.Versions)
                {
                    text.Append('|').Append(v.Hash);
                }

                text.Append('\n');
            }
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void CheckText(string value, int maxBytes, string what)
    {
        ArgumentNullException.ThrowIfNull(value, what);
        var bytes = Encoding.UTF8.GetByteCount(value);
        if (bytes is 0 || bytes > maxBytes || value.Any(char.IsControl) || string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException($"the {what} must be 1-{maxBytes} bytes of UTF-8 text without control characters, got {bytes} bytes", what);
        }
    }

    private static string Names(List<string> accounts) =>
        accounts.Count <= 5 ? string.Join(", ", accounts.Select(a => $"'{a}'")) : $"{string.Join(", ", accounts.Take(5).Select(a => $"'{a}'"))} and {accounts.Count - 5} more";
}
