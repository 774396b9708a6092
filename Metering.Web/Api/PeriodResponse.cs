
namespace Metering.Web.Api;

/// <summary>
/// A billing period of one account as the ledger holds it: the running totals, the late-usage rows booked into it and
/// their running amounts, subtotals. Not an invoice: the statement (<c>GET /v1/accounts/{a}/statements/{p}</c>) is.
/// </summary>
internal sealed record PeriodResponse(string Account, DateTimeOffset PeriodStart, DateTimeOffset? PeriodEnd, bool Closed, IReadOnlyList<PeriodLine> Lines, IReadOnlyList<PeriodAdjustment> Adjustments, IReadOnlyList<CurrencySubtotal> Subtotals);
