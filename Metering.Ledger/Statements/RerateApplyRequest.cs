namespace Metering.Ledger.Statements;

/// <summary>
/// What <see cref="Rerater.ApplyAsync"/> books under: the operator's <paramref name="Reason"/> (1-1000 bytes), the
/// <paramref name="IdempotencyKey"/> that names the batch (null = a generated one), the <paramref name="Actor"/>
/// (1-256 bytes) and <paramref name="Force"/>, which allows a re-rate of a period already re-rated for an account
/// (the earlier lines are then taken back, <see cref="Rating.Statements.Rerating.Net"/>).
/// </summary>
public sealed record RerateApplyRequest(string Reason, string? IdempotencyKey, string Actor, bool Force);
