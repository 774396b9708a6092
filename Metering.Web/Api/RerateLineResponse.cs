namespace Metering.Web.Api;

/// <summary>
/// A re-rate difference line: the fields of <see cref="StatementAdjustmentResponse"/> (kind <c>rerate</c>, reference the
/// re-rated period, exact decimal strings), plus what it is about (<c>subject</c>: <c>usage SKU</c>, <c>fee ID</c>,
/// <c>commitment_true_up</c>) and the amounts <c>before</c> and <c>after</c> in its currency (null for a reversal or a replay).
/// </summary>
internal sealed record RerateLineResponse(string LineId, string Kind, string Reference, string? Sku, string? Quantity, string Amount, string Currency, string Reason,
    string Subject, string? Before, string? After);
