namespace Metering.Web.Api;

/// <summary>A minimum commitment: the amount committed, the usage charged against it (usage and adjustment lines in its currency) and the true-up.</summary>
internal sealed record StatementCommitmentResponse(string LineId, string Committed, string UsageCharged, string TrueUp, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash);
