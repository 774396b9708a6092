
namespace Metering.Web.Api;

/// <summary>What the invoice would say if the period closed now: usage and adjustment lines, plus recurring fees and the commitment true-up when the server has the price books; subtotals include them.</summary>
internal sealed record InvoicePreview(bool Closed, IReadOnlyList<InvoicePreviewLine> Lines, IReadOnlyList<CurrencySubtotal> Subtotals);
