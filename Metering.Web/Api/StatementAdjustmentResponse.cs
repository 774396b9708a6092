namespace Metering.Web.Api;

/// <summary>An adjustment line booked into the period (late usage of a closed period today), with its reference.</summary>
internal sealed record StatementAdjustmentResponse(string LineId, string Kind, string Reference, string? Sku, IReadOnlyDictionary<string, string> Dimensions, string? Quantity, string Amount, string Currency, string Reason);
