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

        await using (var freeze = new NpgsqlCommand("UPDATE billing_period_totals SET closed = true, updated_at = now() WHERE period_start = $1 AND NOT closed", connection, tx))
        {
            freeze.Parameters.Add(new() { Value = period.Start.UtcDateTime });
            await freeze.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        long rows = 0;
        var amounts = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        await using (var sum = new NpgsqlCommand("SELECT currency, count(*)::bigint, sum(amount) FROM billing_period_totals WHERE period_start = $1 GROUP BY currency", connection, tx))
        {
            sum.Parameters.Add(new() { Value = period.Start.UtcDateTime });
            await using var reader = await sum.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows += reader.GetInt64(1);
                amounts[reader.GetString(0).Trim()] = reader.GetDecimal(2);
            }
        }

        var statements = prices is null ? 0 : await FinalStatementStore.FinalizeAsync(connection, tx, period, rule, prices, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PeriodCloseResult(period, !inserted, rows, amounts, statements);
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
