
namespace Metering.Web.Api;

/// <summary>A billing period of one account: rated totals, adjustments, subtotals; an invoice preview while open.</summary>
internal sealed record PeriodResponse(string Account, DateTimeOffset PeriodStart, DateTimeOffset? PeriodEnd, bool Closed, IReadOnlyList<PeriodLine> Lines, IReadOnlyList<PeriodAdjustment> Adjustments, IReadOnlyList<CurrencySubtotal> Subtotals, InvoicePreview? InvoicePreview);
