using System.Globalization;
using Metering.Ledger.Statements;
using Metering.Rating.Statements;

namespace Metering.Web.Api;

/// <summary>Maps a ledger re-rate to its API form; the one mapping behind the endpoint and <c>metering rerate --format json</c>.</summary>
internal static class RerateResponses
{
    public static RerateResponse Of(RerateResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var listed = result.Accounts.Where(Listed).Select(Of).ToList();
        var changed = result.Accounts.Count(a => a.ToBook.Count > 0 || a.Lines.Count > 0);
        var applied = result.Application is { } p
            ? new RerateApplicationResponse(p.Batch, p.Replay, p.BookedInto.Start, p.BookedInto.End, p.LinesBooked, p.Reason, p.Actor, p.Forced, p.CreatedAt)
            : null;
        return new RerateResponse(result.Period.Start, result.Period.End, result.AccountsCompared, changed, result.AccountsCompared - changed, listed,
            Totals(result.Accounts.SelectMany(a => a.Lines)), Totals(result.Accounts.SelectMany(a => a.ToBook)), applied);
    }

    /// <summary>An account is listed when there is something to say about it; the rest are counted as unchanged.</summary>
    public static bool Listed(RerateAccountResult a) => a.Lines.Count > 0 || a.ToBook.Count > 0 || a.EarlierApplied.Count > 0 || !a.BaselineMatchesFinal;

    /// <summary>Each line described against the two statements compared (a replay has none: subject is then the reason).</summary>
    public static IReadOnlyList<RerateLine> Describe(RerateAccountResult a, IReadOnlyList<AdjustmentLine> lines) =>
        [.. lines.Select(l => a.Baseline is { } b && a.Recomputed is { } r ? Rerating.Describe(l, b, r) : new RerateLine(l, l.Sku is { } s ? "usage " + s : l.Reason, null, null))];

    /// <summary>Exact sums per currency, by code.</summary>
    public static IReadOnlyList<CurrencySubtotal> Totals(IEnumerable<AdjustmentLine> lines) =>
        [.. lines.GroupBy(l => l.Currency, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new CurrencySubtotal(g.Key, DecimalText.Money(g.Sum(l => l.Amount), g.Key)))];

    private static RerateAccountResponse Of(RerateAccountResult a) => new(a.Account, Lines(a, a.Lines), Totals(a.Lines), Lines(a, a.EarlierApplied, describe: false), Lines(a, a.ToBook), Totals(a.ToBook),
        a.Baseline?.ContentHash, a.Recomputed?.ContentHash, a.BaselineMatchesFinal);

    // Earlier lines were computed against statements of their own time: they are not described against today's.
    private static List<RerateLineResponse> Lines(RerateAccountResult a, IReadOnlyList<AdjustmentLine> lines, bool describe = true) =>
        [.. (describe ? Describe(a, lines) : [.. lines.Select(l => new RerateLine(l, l.Reason, null, null))]).Select((d, i) => new RerateLineResponse("rerate:" + (i + 1).ToString(CultureInfo.InvariantCulture), d.Line.Kind, d.Line.Reference, d.Line.Sku,
            d.Line.Quantity is { } q ? DecimalText.Quantity(q) : null, DecimalText.Money(d.Line.Amount, d.Line.Currency), d.Line.Currency, d.Line.Reason, d.Subject,
            d.Before is { } before ? DecimalText.Money(before, d.Line.Currency) : null, d.After is { } after ? DecimalText.Money(after, d.Line.Currency) : null))];
}
