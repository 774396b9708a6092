
namespace Metering.Web.Api;

/// <summary>Late usage of a closed period, booked into this period (table <c>adjustments</c>).</summary>
internal sealed record PeriodAdjustment(long Id, string Sku, DateTimeOffset OriginalPeriodStart, string Quantity, long RecordCount, string Amount, string Currency, string PriceBookHash, string Reference);
