namespace Metering.Ledger.Quotas;

/// <summary>
/// Refuses an amount quota in a currency other than the account's billing currency: the account's totals are charged
/// in its currency only and amounts are never converted, so the quota could never be compared with anything
/// (docs/pricebooks.md, "Currencies"). An <see cref="ArgumentException"/> on the <c>currency</c> parameter, so the API
/// answers it as a 400 naming that field.
/// </summary>
public sealed class QuotaCurrencyMismatchException(string account, string quotaCurrency, string accountCurrency)
    : ArgumentException($"account '{account}' is billed in {accountCurrency}: an amount quota in {quotaCurrency} would never be compared with its amounts (they are never converted); set it in {accountCurrency}", "currency")
{
    /// <summary>The account.</summary>
    public string Account { get; } = account;

    /// <summary>The currency the quota was asked in.</summary>
    public string QuotaCurrency { get; } = quotaCurrency;

    /// <summary>The account's billing currency.</summary>
    public string AccountCurrency { get; } = accountCurrency;
}
