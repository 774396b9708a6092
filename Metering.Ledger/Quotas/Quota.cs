using Metering.Rating.Money;
using Metering.Rating.PriceBooks;

namespace Metering.Ledger.Quotas;

/// <summary>
/// A row of the <c>quotas</c> table. <paramref name="InvalidThreshold"/> is the stored threshold as PostgreSQL prints
/// it when it is outside <see cref="LedgerDecimal"/>'s range (a row written around the API and the CLI): then
/// <paramref name="Threshold"/> is 0 and the quota is never evaluated, but it can still be listed and removed.
/// <paramref name="AccountCurrency"/> is the account's stored billing currency (null: the account has no row, and is
/// billed in the list book's).
/// </summary>
public sealed record Quota(long Id, string Account, string? Sku, QuotaMetric Metric, decimal Threshold, string? Currency, string Source, DateTimeOffset UpdatedAt,
    string? InvalidThreshold = null, string? AccountCurrency = null)
{
    /// <summary>
    /// An amount quota in a currency other than the account's: the account's totals are in its own currency, amounts
    /// are never converted, so the quota compares with nothing and never fires (a price book's quota, which is in the
    /// book's currency, on an account billed in another one; or an account whose currency changed after the quota).
    /// </summary>
    public bool CurrencyMismatch => Metric == QuotaMetric.Amount && AccountCurrency is not null && Currency is not null && AccountCurrency != Currency;
}
