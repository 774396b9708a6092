using System.Globalization;

namespace Metering.Analytics;

/// <summary>One difference between the PostgreSQL ledger and ClickHouse for an (account, sku, period).</summary>
/// <param name="Account">The account.</param>
/// <param name="Sku">The SKU.</param>
/// <param name="Field">quantity, record_count, amount, or "row" when one side has no row at all.</param>
/// <param name="Ledger">The value in billing_period_totals (null: no row).</param>
/// <param name="Analytics">The ClickHouse sum plus outbox rows still in flight (null: no rows).</param>
public sealed record ReconcileDrift(string Account, string Sku, string Field, decimal? Ledger, decimal? Analytics)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Account}/{Sku} {Field}: ledger {Format(Ledger)}, clickhouse {Format(Analytics)}" +
        (Ledger is { } l && Analytics is { } a ? $" (clickhouse - ledger = {(a - l).ToString(CultureInfo.InvariantCulture)})" : "");

    private static string Format(decimal? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "missing";
}
