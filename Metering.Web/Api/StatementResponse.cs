namespace Metering.Web.Api;

/// <summary>A statement of one account and period as <c>GET /v1/accounts/{account}/statements/{period}</c> serves it (docs/statements.md). Money and quantities are exact decimal strings.</summary>
internal sealed record StatementResponse(string Account, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, string Status, bool PeriodClosed, string ContentHash, IReadOnlyList<StatementUsageLineResponse> Usage, IReadOnlyList<StatementFeeLineResponse> Fees, IReadOnlyList<StatementCommitmentResponse> Commitments, IReadOnlyList<StatementAdjustmentResponse> Adjustments, IReadOnlyList<StatementTotalResponse> Totals);
