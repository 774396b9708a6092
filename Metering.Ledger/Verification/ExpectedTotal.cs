namespace Metering.Ledger.Verification;

/// <summary>The expected total of one (account, SKU) in a <see cref="LedgerExpectation"/>.</summary>
/// <param name="Account">Account name.</param>
/// <param name="Sku">SKU name.</param>
/// <param name="Count">Accepted records.</param>
/// <param name="Quantity">Exact quantity as a decimal string (parsed exactly, never through a double).</param>
public sealed record ExpectedTotal(string Account, string Sku, long Count, string Quantity);
