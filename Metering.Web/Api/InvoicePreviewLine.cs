
namespace Metering.Web.Api;

/// <summary>One line of an invoice preview: a usage total or an adjustment.</summary>
internal sealed record InvoicePreviewLine(string Kind, string Sku, string Description, string Quantity, string Amount, string Currency);
