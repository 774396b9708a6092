namespace Metering.Ledger.Reconcile;

/// <summary>What the ledger holds for one (account, sku) of a period: its billing total plus the adjustments that reference the period. Exact decimals.</summary>
/// <param name="Account">The account.</param>
/// <param name="Sku">The SKU.</param>
/// <param name="Quantity">Raw quantity.</param>
/// <param name="RecordCount">Records counted.</param>
/// <param name="Amount">Money charged, in the currency's major units as stored.</param>
public sealed record ReconcileTotal(string Account, string Sku, decimal Quantity, long RecordCount, decimal Amount);
