using System.Globalization;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.PeriodClose;

/// <summary>
/// Closes billing periods. A closed period's totals never change again: usage that arrives later for it is booked by
/// the ledger writer as an adjustment line in the next open period, with a reference to the closed one.
/// <para>
/// Closing and flushing are serialized by a PostgreSQL advisory lock: every flush transaction holds it shared, a close
/// holds it exclusively. So a flush either committed before the close (its usage is in the frozen totals) or starts
/// after it (and sees the period closed); no flush can slip usage into a period while it is being closed.
/// </para>
/// </summary>
public static class PeriodCloser
{
    /// <summary>The advisory lock key shared by flushes (shared) and closes (exclusive): "metering" in ASCII.</summary>
    public const long CloseLockKey = 0x6D65746572696E67;

    /// <summary>
    /// Closes the period starting at <paramref name="periodStart"/> under <paramref name="rule"/> (default: calendar
    /// months). Refuses a start that is not a period boundary, and a period that has not ended yet at
    /// <paramref name="now"/> (default: the clock) unless <paramref name="force"/>. With <paramref name="prices"/>, the
    /// same transaction writes the final statement of every account in the period (<see cref="FinalStatementStore"/>):
    /// the draft as it stands under the close's lock, so final equals draft. Idempotent: closing again writes the final
    /// statements that are missing (a period closed without prices) and changes none.
    /// </summary>
    public static async Task<PeriodCloseResult> CloseAsync(
        NpgsqlDataSource db, DateTimeOffset periodStart, CancellationToken cancellationToken,
        BillingPeriodRule? rule = null, DateTimeOffset? now = null, bool force = false, PriceCatalog? prices = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        rule ??= BillingPeriodRule.CalendarMonth;
        var period = rule.PeriodOf(periodStart);
        if (period.Start != periodStart)
        {
            throw new PeriodCloseException($"{periodStart:O} is not the start of a billing period (the period containing it is {period})");
        }

        var clock = now ?? DateTimeOffset.UtcNow;
        if (period.End > clock && !force)
        {
            throw new PeriodCloseException($"period {period} has not ended yet (now {clock:O}); closing it would push the rest of its usage into adjustments. Use force to close it anyway.");
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, tx))
        {
            lockCmd.Parameters.Add(new() { Value = CloseLockKey });
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        bool inserted;
        await using (var insert = new NpgsqlCommand("INSERT INTO closed_periods (period_start, period_end) VALUES ($1, $2) ON CONFLICT DO NOTHING", connection, tx))
        {
            insert.Parameters.Add(new() { Value = period.Start.UtcDateTime });
            insert.Parameters.Add(new() { Value = period.End.UtcDateTime });
            inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }

        // The list book's period closes the accounts without a rule of their own; each rule group closes its own
        // period of this close (docs/statements.md, "Account billing periods").
        var (rows, amounts) = await FreezeAsync(connection, tx, period, null, cancellationToken).ConfigureAwait(false);
        var statements = prices is null ? 0 : await FinalStatementStore.FinalizeAsync(connection, tx, period, rule, prices, cancellationToken).ConfigureAwait(false);
        var groups = new List<RuleGroupClose>();
        foreach (var group in await AccountPeriodStore.GroupsAsync(connection, tx, cancellationToken).ConfigureAwait(false))
        {
            if (group.RuleOf(rule).PeriodLabelledBy(period) is not { } own)
            {
                continue;
            }

            if (own.End > clock && !force)
            {
                groups.Add(new RuleGroupClose(group, own, false, 0));
                continue;
            }

            await using (var insert = new NpgsqlCommand("""
                INSERT INTO closed_rule_periods (anchor_day, time_zone, period_start, period_end, label_start) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, connection, tx))
            {
                foreach (var v in new object[] { group.AnchorKey, group.ZoneKey, own.Start.UtcDateTime, own.End.UtcDateTime, period.Start.UtcDateTime })
                {
                    insert.Parameters.Add(new() { Value = v });
                }

                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var (groupRows, groupAmounts) = await FreezeAsync(connection, tx, own, group, cancellationToken).ConfigureAwait(false);
            rows += groupRows;
            foreach (var (currency, amount) in groupAmounts)
            {
                amounts[currency] = amounts.GetValueOrDefault(currency) + amount;
            }

            var written = prices is null ? 0 : await FinalStatementStore.FinalizeAsync(connection, tx, own, rule, prices, cancellationToken, group).ConfigureAwait(false);
            statements += written;
            groups.Add(new RuleGroupClose(group, own, true, written));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PeriodCloseResult(period, !inserted, rows, amounts, statements, groups);
    }

    /// <summary>Freezes the totals of <paramref name="period"/> of the accounts in <paramref name="group"/> (null: without a rule of their own); returns their count and amounts.</summary>
    private static async Task<(long Rows, SortedDictionary<string, decimal> Amounts)> FreezeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, BillingPeriod period,
        PeriodRuleGroup? group, CancellationToken cancellationToken)
    {
        var inGroup = AccountPeriodStore.InGroupSql("t.account", group, 2);
        await using (var freeze = new NpgsqlCommand($"UPDATE billing_period_totals t SET closed = true, updated_at = now() WHERE t.period_start = $1 AND NOT t.closed AND {inGroup}", connection, tx))
        {
            AddParameters(freeze, period, group);
            await freeze.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        long rows = 0;
        var amounts = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        await using var sum = new NpgsqlCommand($"SELECT t.currency, count(*)::bigint, sum(t.amount) FROM billing_period_totals t WHERE t.period_start = $1 AND {inGroup} GROUP BY t.currency", connection, tx);
        AddParameters(sum, period, group);
        await using var reader = await sum.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows += reader.GetInt64(1);
            amounts[reader.GetString(0).Trim()] = reader.GetDecimal(2);
        }

        return (rows, amounts);
    }

    private static void AddParameters(NpgsqlCommand cmd, BillingPeriod period, PeriodRuleGroup? group)
    {
        cmd.Parameters.Add(new() { Value = period.Start.UtcDateTime });
        if (group is not null)
        {
            cmd.Parameters.Add(new() { Value = group.AnchorKey });
            cmd.Parameters.Add(new() { Value = group.ZoneKey });
        }
    }

    /// <summary>The starts of every closed period.</summary>
    public static async Task<HashSet<DateTimeOffset>> ClosedAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var cmd = new NpgsqlCommand("SELECT period_start FROM closed_periods", connection, tx);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var closed = new HashSet<DateTimeOffset>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            closed.Add(new DateTimeOffset(reader.GetDateTime(0), TimeSpan.Zero));
        }

        return closed;
    }

    /// <summary>
    /// Parses a period as written in commands and URLs: <c>YYYY-MM-DD</c> (the period's start date, UTC) or
    /// <c>YYYY-MM</c> (the 1st of that month). Throws <see cref="FormatException"/> naming the accepted forms.
    /// </summary>
    public static DateTimeOffset ParsePeriodStart(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (DateTime.TryParseExact(text, ["yyyy-MM-dd", "yyyy-MM"], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date))
        {
            return new DateTimeOffset(DateTime.SpecifyKind(date, DateTimeKind.Utc), TimeSpan.Zero);
        }

        throw new FormatException($"'{text}' is not a period: use YYYY-MM-DD (the period's start date) or YYYY-MM (a calendar month)");
    }
}
