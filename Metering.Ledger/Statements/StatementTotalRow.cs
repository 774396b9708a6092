namespace Metering.Ledger.Statements;

/// <summary>
/// One <c>billing_period_totals</c> row a statement was built from, as it was when it was read (<paramref name="Group"/>:
/// its dimension group, "" when none; <paramref name="PriceFrom"/>: the instant a version took effect inside the period
/// that prices it, null when priced from the period's start). For a SKU metered by a meter other than sum, the
/// quantity is the meter's (<c>meter_states.quantity</c>), and <paramref name="MeterUnpriced"/> the reason it could not
/// be priced, if any (with <paramref name="MeterDetail"/>).
/// </summary>
public sealed record StatementTotalRow(string Sku, decimal Quantity, long RecordCount, decimal Amount, string Currency, string PriceBookHash, string Group = "", DateTimeOffset? PriceFrom = null,
    string? MeterUnpriced = null, string? MeterDetail = null)
{
    /// <summary>The row as the usage a statement rates.</summary>
    public Rating.Statements.SkuUsage ToUsage() => new(Sku, Quantity, RecordCount, Group: Group, PriceFrom: PriceFrom)
    {
        RatedAmount = Amount, RatedHash = PriceBookHash, MeterUnpriced = MeterUnpriced, MeterDetail = MeterDetail,
    };
}
