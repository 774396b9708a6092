
namespace Metering.Web.Api;

/// <summary>The sum of a period's lines and adjustments in one currency.</summary>
internal sealed record CurrencySubtotal(string Currency, string Amount);
