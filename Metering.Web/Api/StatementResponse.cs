namespace Metering.Web.Api;

/// <summary>
/// A statement of one account and period as <c>GET /v1/accounts/{account}/statements/{period}</c>, <c>GET /v1/statements</c>
/// and <c>metering statements export</c> serve it (docs/statements.md): <c>statement_id</c> and <c>finalized_at</c> are set
/// for a final statement, null for a draft; <c>inputs</c> lists the ledger rows and price-book versions it was built from.
/// Money and quantities are exact decimal strings.
/// </summary>
internal sealed record StatementResponse(string? StatementId, string Account, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, string Status, bool PeriodClosed,
    DateTimeOffset? FinalizedAt, string ContentHash, IReadOnlyList<StatementUsageLineResponse> Usage, IReadOnlyList<StatementFeeLineResponse> Fees, IReadOnlyList<StatementCommitmentResponse> Commitments, IReadOnlyList<StatementAdjustmentResponse> Adjustments, IReadOnlyList<StatementTotalResponse> Totals, StatementInputsResponse Inputs);
