namespace Metering.Web.Api;

/// <summary>A recurring fee: the service dates it covers (the subscription's active part of the period), its proration factor and amount.</summary>
internal sealed record StatementFeeLineResponse(string LineId, string FeeId, DateTimeOffset ServiceStart, DateTimeOffset ServiceEnd, string ProrationFactor, string Amount, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash);
