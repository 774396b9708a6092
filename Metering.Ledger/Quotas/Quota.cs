using Metering.Rating.Money;
using Metering.Rating.PriceBooks;

namespace Metering.Ledger.Quotas;

/// <summary>
/// A row of the <c>quotas</c> table. <paramref name="InvalidThreshold"/> is the stored threshold as PostgreSQL prints
/// it when it is outside <see cref="LedgerDecimal"/>'s range (a row written around the API and the CLI): then
/// <paramref name="Threshold"/> is 0 and the quota is never evaluated, but it can still be listed and removed.
/// </summary>
public sealed record Quota(long Id, string Account, string? Sku, QuotaMetric Metric, decimal Threshold, string? Currency, string Source, DateTimeOffset UpdatedAt,
    string? InvalidThreshold = null);
