namespace Metering.Ledger.Corrections;

/// <summary>
/// Why a well-formed correction was refused by the ledger's state: <see cref="Code"/> is one of
/// <c>outside_horizon</c>, <c>future_event</c>, <c>already_voided</c>, <c>quantity_mismatch</c>, <c>event_mismatch</c>,
/// <c>period_closed</c>, <c>not_a_period_start</c>, <c>exceeds_recorded</c>, <c>rated_per_transaction</c>, <c>metered_not_correctable</c>; <see cref="Field"/> the request field it concerns (the API's name);
/// <see cref="Message"/> says what to change.
/// </summary>
public sealed record CorrectionRefusal(string Code, string Field, string Message);
