namespace Metering.Web.Api;

/// <summary>
/// What a statement was built from: the <c>billing_period_totals</c> rows (quantity, count, running amount, lineage
/// hash), the ids of the late-usage rows, corrections and booked adjustments whose lines it carries, and every
/// price-book version its lines name.
/// </summary>
internal sealed record StatementInputsResponse(IReadOnlyList<StatementTotalRowResponse> Totals, IReadOnlyList<long> LateUsageIds, IReadOnlyList<long> CorrectionIds,
    IReadOnlyList<long> BookedAdjustmentIds, IReadOnlyList<StatementPriceBookResponse> PriceBooks);
