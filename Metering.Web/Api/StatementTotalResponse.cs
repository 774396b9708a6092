namespace Metering.Web.Api;

/// <summary>The statement's sums in one currency: usage, fees, commitment true-ups, adjustments and the total.</summary>
internal sealed record StatementTotalResponse(string Currency, string Usage, string Fees, string Commitments, string Adjustments, string Total);
