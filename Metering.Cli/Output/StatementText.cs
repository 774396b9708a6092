using System.Globalization;
using System.Text;
using Metering.Rating.Money;
using Metering.Rating.Statements;

namespace Metering.Cli.Output;

/// <summary>
/// Renders a <see cref="Statement"/> as short fixed-width text a person can check by eye: a header (account, period,
/// status, id, the content hash shortened), one row per usage line (recorded and billable quantity with units, amount,
/// included units used or why the line is unpriced), the fee rows with their service dates and proration factor, the
/// commitment rows, the adjustment rows and the totals per currency. Every number is exact: quantities and factors are
/// written with all their significant digits, money with exactly its currency's minor units (never rounded here: a
/// statement's amounts are already rounded, and an amount with more digits keeps them). Integer parts are grouped by
/// thousands with commas. Columns of each section are padded to their widest cell. Pure and thread-safe.
/// </summary>
public static class StatementText
{
    /// <summary>Characters of the content hash's hex digest shown in the header (the full hash is on the statement).</summary>
    public const int HashDigits = 12;

    private const string Gap = "  ";
    private const string Indent = "  ";

    /// <summary>
    /// The statement as text, one line per row, each ending in a line feed. <paramref name="status"/> is what the
    /// statement is (<c>draft</c> or <c>final</c>); <paramref name="statementId"/> its id once it has one (null: <c>-</c>).
    /// </summary>
    public static string Render(Statement statement, string status, string? statementId = null)
    {
        ArgumentNullException.ThrowIfNull(statement);
        ArgumentException.ThrowIfNullOrWhiteSpace(status);
        var text = new StringBuilder();
        Table(text,
        [
            ["statement", statement.Account],
            ["period", $"{Instant(statement.Period.Start)} .. {Instant(statement.Period.End)}"],
            ["status", status],
            ["id", statementId ?? "-"],
            ["hash", ShortHash(statement.ContentHash)],
        ], rightAligned: [], indent: "");

        text.Append('\n');
        // Quantity and unit in columns of their own, so that the digits line up whatever the units' lengths.
        var usage = new List<string[]> { new[] { "usage", "recorded", "", "billable", "", "amount", "" } };
        foreach (var u in statement.Usage)
        {
            // A dimension group's line names its values after the SKU: "cdn.egress.bytes region=eu".
            var item = u.Group.Length == 0 ? u.Sku : u.Sku + " " + string.Join(' ', Rating.PeriodTotals.DimensionGroup.Pairs(u.Group).Select(p => $"{p.Key}={p.Value}"));
            // A line of a version taking effect inside the period names its stretch and version: "... from 2026-12-15 (v2)".
            if (u.PriceFrom is { } from)
            {
                item += $" from {from.UtcDateTime:yyyy-MM-dd HH:mm}Z" + (u.PriceBookVersion is { } v ? $" ({v})" : "");
            }

            usage.Add(u.Priced
                ? [item, Quantity(u.RecordedQuantity), u.RecordedUnit ?? "", Quantity(u.BillableQuantity), u.BillableUnit ?? "", Money(u.Amount, u.Currency!),
                    u.IncludedUnitsApplied > 0 ? "included " + WithUnit(Quantity(u.IncludedUnitsApplied), u.BillableUnit) : ""]
                : [item, Quantity(u.RecordedQuantity), "", "-", "", "unpriced", $"{u.UnpricedReason}{(u.UnpricedDetail is { } d ? ": " + d : "")}"]);
        }

        Table(text, usage, rightAligned: [1, 3, 5]);
        if (statement.Fees.Count > 0)
        {
            var fees = new List<string[]> { new[] { "fees", "service", "factor", "amount" } };
            fees.AddRange(statement.Fees.Select(f => new[]
            {
                f.FeeId, $"{Instant(f.ServiceStart)} .. {Instant(f.ServiceEnd)}", Quantity(f.ProrationFactor), Money(f.Amount, f.Currency),
            }));
            text.Append('\n');
            Table(text, fees, rightAligned: [2, 3]);
        }

        if (statement.Commitments.Count > 0)
        {
            var commitments = new List<string[]> { new[] { "commitment", "committed", "usage charged", "true-up" } };
            commitments.AddRange(statement.Commitments.Select(c => new[]
            {
                c.PriceBook, Money(c.Committed, c.Currency), Money(c.UsageCharged, c.Currency), Money(c.TrueUp, c.Currency),
            }));
            text.Append('\n');
            Table(text, commitments, rightAligned: [1, 2, 3]);
        }

        if (statement.Adjustments.Count > 0)
        {
            var adjustments = new List<string[]> { new[] { "adjustments", "reference", "sku", "quantity", "amount", "reason" } };
            adjustments.AddRange(statement.Adjustments.Select(a => new[]
            {
                a.Kind, a.Reference, a.Sku ?? "-", a.Quantity is { } q ? Quantity(q) : "-", Money(a.Amount, a.Currency), a.Reason,
            }));
            text.Append('\n');
            Table(text, adjustments, rightAligned: [3, 4]);
        }

        // The row names the currency; its cells are the bare amounts.
        var totals = new List<string[]> { new[] { "totals", "usage", "fees", "true-up", "adjustments", "total" } };
        totals.AddRange(statement.Totals.Select(t => new[]
        {
            t.Currency, Amount(t.Usage, t.Currency), Amount(t.Fees, t.Currency), Amount(t.Commitments, t.Currency), Amount(t.Adjustments, t.Currency), Amount(t.Total, t.Currency),
        }));
        text.Append('\n');
        Table(text, totals, rightAligned: [1, 2, 3, 4, 5]);
        return text.ToString();
    }

    /// <summary>"sha256:" and the first <see cref="HashDigits"/> hex digits; any other text as it is.</summary>
    public static string ShortHash(string hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        const string prefix = "sha256:";
        return hash.StartsWith(prefix, StringComparison.Ordinal) && hash.Length > prefix.Length + HashDigits ? hash[..(prefix.Length + HashDigits)] : hash;
    }

    /// <summary>An exact decimal without trailing fractional zeros, the integer part grouped by thousands (1,234.5).</summary>
    public static string Quantity(decimal value) => Grouped(Normalize(value).ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// An amount and its currency: at least the currency's minor digits (USD 12.50, JPY 1,250, KWD 1.250), grouped by
    /// thousands; an amount finer than the minor units keeps every digit rather than being rounded here.
    /// </summary>
    public static string Money(decimal value, string currency) => Amount(value, currency) + " " + currency;

    /// <summary>As <see cref="Money"/>, without the currency code.</summary>
    public static string Amount(decimal value, string currency)
    {
        ArgumentNullException.ThrowIfNull(currency);
        var normalized = Normalize(value);
        var digits = Currency.TryGet(currency, out var c) && normalized.Scale <= c.MinorUnits
            ? normalized.ToString("F" + c.MinorUnits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
            : normalized.ToString(CultureInfo.InvariantCulture);
        return Grouped(digits);
    }

    /// <summary>UTC, to the second, with the fraction only when there is one (2026-11-01T00:00:00Z, 2026-11-11T06:00:00.5Z).</summary>
    public static string Instant(DateTimeOffset instant)
    {
        var utc = instant.UtcDateTime;
        var fraction = utc.Ticks % TimeSpan.TicksPerSecond;
        var text = utc.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        return fraction == 0 ? text + "Z" : text + "." + fraction.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0') + "Z";
    }

    private static string WithUnit(string quantity, string? unit) => unit is null ? quantity : quantity + " " + unit;

    // Dividing by 1 with 28 zero decimals strips trailing zeros exactly (decimal keeps the smallest scale).
    private static decimal Normalize(decimal value) => value / 1.0000000000000000000000000000m;

    private static string Grouped(string plain)
    {
        var sign = plain.StartsWith('-') ? "-" : "";
        var digits = plain[sign.Length..];
        var dot = digits.IndexOf('.', StringComparison.Ordinal);
        var integer = dot < 0 ? digits : digits[..dot];
        var grouped = new StringBuilder(integer.Length + (integer.Length / 3));
        for (var i = 0; i < integer.Length; i++)
        {
            if (i > 0 && (integer.Length - i) % 3 == 0)
            {
                grouped.Append(',');
            }

            grouped.Append(integer[i]);
        }

        return sign + grouped + (dot < 0 ? "" : digits[dot..]);
    }

    /// <summary>
    /// Appends the rows padded to each column's widest cell: the first row is the section's heading line, the others are
    /// indented under it; columns in <paramref name="rightAligned"/> are right-aligned (numbers), the rest left-aligned.
    /// Trailing blanks are trimmed.
    /// </summary>
    private static void Table(StringBuilder text, IReadOnlyList<string[]> rows, int[] rightAligned, string indent = Indent)
    {
        var columns = rows.Max(r => r.Length);
        var widths = new int[columns];
        for (var r = 0; r < rows.Count; r++)
        {
            for (var c = 0; c < rows[r].Length; c++)
            {
                // The first column holds the heading unindented and the rows indented.
                widths[c] = Math.Max(widths[c], rows[r][c].Length + (c == 0 && r > 0 ? indent.Length : 0));
            }
        }

        for (var r = 0; r < rows.Count; r++)
        {
            var line = new StringBuilder();
            for (var c = 0; c < rows[r].Length; c++)
            {
                var cell = c == 0 && r > 0 ? indent + rows[r][c] : rows[r][c];
                if (c > 0)
                {
                    line.Append(Gap);
                }

                line.Append(Array.IndexOf(rightAligned, c) >= 0 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]));
            }

            text.Append(line.ToString().TrimEnd()).Append('\n');
        }
    }
}
