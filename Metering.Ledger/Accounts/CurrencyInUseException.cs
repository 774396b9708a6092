namespace Metering.Ledger.Accounts;

/// <summary>
/// Refuses a change of an account's billing currency while it has usage (period totals, late usage, corrections or
/// re-rate lines) in a billing period that is not closed: that period's running amounts are in the old currency and
/// its statement would be priced in the new one (migration 0018; docs/api.md#accounts). The account model has no
/// effective-dated terms: close the period first, then change the currency before the next usage is booked.
/// </summary>
public sealed class CurrencyInUseException(string account, string currency, string? openPeriodStart)
    : Exception($"account '{account}' has usage in its open billing period starting {openPeriodStart ?? "(unknown)"}: its currency cannot change to {currency} until every period with its usage is closed (a change would re-price that period in another currency; docs/api.md#accounts)")
{
    /// <summary>The account.</summary>
    public string Account { get; } = account;

    /// <summary>The currency that was refused.</summary>
    public string Currency { get; } = currency;

    /// <summary>The start of the earliest open period with usage (RFC 3339 UTC), as the database reported it.</summary>
    public string? OpenPeriodStart { get; } = openPeriodStart;
}
