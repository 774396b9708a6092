using Metering.Ledger.Corrections;

namespace Metering.Web.Api;

/// <summary>
/// One stored correction as the API shows it: quantities and amounts as exact decimal strings (amounts with at least
/// the currency's minor digits; a credit is negative), instants in UTC, <c>booked_period_start</c> the period whose
/// statement carries it.
/// </summary>
internal sealed record CorrectionResponse(long Id, string IdempotencyKey, string Account, string Kind, string? EventId, string? Sku, DateTimeOffset? EventTime,
    DateTimeOffset? OriginalPeriodStart, DateTimeOffset BookedPeriodStart, int? Revision, string? OriginalQuantity, string? NewQuantity, string? QuantityDelta,
    string? Amount, string? Currency, string Actor, string Reason, DateTimeOffset CreatedAt)
{
    public static CorrectionResponse Of(StoredCorrection c) => new(
        c.Id, c.IdempotencyKey, c.Account, CorrectionRequest.KindName(c.Kind), c.EventId, c.Sku, c.EventTime, c.OriginalPeriodStart, c.BookedPeriodStart, c.Revision,
        Text(c.OriginalQuantity), Text(c.NewQuantity), Text(c.QuantityDelta), c.Amount is { } a ? DecimalText.Money(a, c.Currency ?? "") : null, c.Currency,
        c.Actor, c.Reason, c.CreatedAt);

    private static string? Text(decimal? value) => value is { } v ? DecimalText.Quantity(v) : null;
}
