using System.Globalization;
using Metering.Ledger.Statements;

namespace Metering.Web.Api;

/// <summary>
/// Maps a ledger statement to its API form; the one mapping behind the statement endpoints and the CLI export. Line ids
/// are unique within a statement and stable for a final one (with the statement id they address one line anywhere):
/// <c>usage:SKU</c> (<c>usage:SKU:GROUP</c> for a dimension group, GROUP its canonical JSON), <c>fee:N:FEE_ID</c>, <c>commitment:CURRENCY</c>, <c>adjustment:N</c>, N counting from 1 in the
/// statement's canonical line order.
/// </summary>
internal static class StatementResponses
{
    // usage:SKU, usage:SKU:GROUP, and for a line of a price segment @FROM after either (round-trip UTC instant).
    private static string LineId(Rating.Statements.UsageLine u) =>
        (u.Group.Length == 0 ? "usage:" + u.Sku : $"usage:{u.Sku}:{u.Group}") +
        (u.PriceFrom is { } from ? "@" + from.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "");

    public static StatementResponse Of(AccountStatement accountStatement)
    {
        ArgumentNullException.ThrowIfNull(accountStatement);
        var s = accountStatement.Statement;
        string Money(decimal value, string? currency) => currency is null ? DecimalText.Quantity(value) : DecimalText.Money(value, currency);
        static string N(int i) => (i + 1).ToString(CultureInfo.InvariantCulture);
        var usage = s.Usage.Select(u => new StatementUsageLineResponse(
            LineId(u), u.Sku, DimensionsOf(u.Group), u.Priced, u.UnpricedReason, DecimalText.Quantity(u.RecordedQuantity), u.RecordedUnit, DecimalText.Quantity(u.ConvertedQuantity),
            DecimalText.Quantity(u.IncludedUnitsApplied), DecimalText.Quantity(u.BillableQuantity), u.BillableUnit, u.RecordCount,
            u.Tiers.Select(t => new StatementTierResponse(t.Tier, DecimalText.Quantity(t.From), t.UpTo is { } up ? DecimalText.Quantity(up) : null,
                DecimalText.Quantity(t.Quantity), DecimalText.Quantity(t.UnitPrice), DecimalText.Quantity(t.FlatFee), DecimalText.Quantity(t.Amount))).ToList(),
            DecimalText.Quantity(u.ExactAmount), Money(u.Amount, u.Currency), u.Currency, u.PriceBook, u.PriceBookVersion, u.PriceBookHash, u.PriceFrom, u.PriceTo)).ToList();
        var fees = s.Fees.Select((f, i) => new StatementFeeLineResponse($"fee:{N(i)}:{f.FeeId}", f.FeeId, f.ServiceStart, f.ServiceEnd, DecimalText.Quantity(f.ProrationFactor),
            Money(f.Amount, f.Currency), f.Currency, f.PriceBook, f.PriceBookVersion, f.PriceBookHash)).ToList();
        var commitments = s.Commitments.Select(c => new StatementCommitmentResponse("commitment:" + c.Currency, Money(c.Committed, c.Currency), Money(c.UsageCharged, c.Currency),
            Money(c.TrueUp, c.Currency), c.Currency, c.PriceBook, c.PriceBookVersion, c.PriceBookHash)).ToList();
        var adjustments = s.Adjustments.Select((a, i) => new StatementAdjustmentResponse("adjustment:" + N(i), a.Kind, a.Reference, a.Sku, DimensionsOf(a.Group),
            a.Quantity is { } q ? DecimalText.Quantity(q) : null, Money(a.Amount, a.Currency), a.Currency, a.Reason)).ToList();
        var totals = s.Totals.Select(t => new StatementTotalResponse(t.Currency, Money(t.Usage, t.Currency), Money(t.Fees, t.Currency),
            Money(t.Commitments, t.Currency), Money(t.Adjustments, t.Currency), Money(t.Total, t.Currency))).ToList();
        var inputs = accountStatement.Inputs;
        var inputsResponse = new StatementInputsResponse(
            [.. inputs.Totals.Select(t => new StatementTotalRowResponse(t.Sku, DimensionsOf(t.Group), DecimalText.Quantity(t.Quantity), t.RecordCount, DecimalText.Quantity(t.Amount), t.Currency, t.PriceBookHash))],
            inputs.LateUsageIds, inputs.CorrectionIds, inputs.BookedAdjustmentIds, [.. inputs.PriceBooks.Select(b => new StatementPriceBookResponse(b.Book, b.Version, b.Hash))]);
        return new StatementResponse(accountStatement.StatementId, s.Account, s.Period.Start, s.Period.End, accountStatement.Status, accountStatement.PeriodClosed,
            accountStatement.FinalizedAt, s.ContentHash, usage, fees, commitments, adjustments, totals, inputsResponse);
    }

    /// <summary>A dimension group as the API shows it: an object of its keys and values, in key order; <c>{}</c> for an ungrouped line.</summary>
    public static IReadOnlyDictionary<string, string> DimensionsOf(string group)
    {
        var pairs = Rating.PeriodTotals.DimensionGroup.Pairs(group);
        var dimensions = new Dictionary<string, string>(pairs.Count, StringComparer.Ordinal);
        foreach (var (key, value) in pairs)
        {
            dimensions[key] = value;
        }

        return dimensions;
    }
}
