namespace Metering.Ledger.Reconcile;

/// <summary>An outbox row of the period not yet marked exported (it may or may not be in ClickHouse already).</summary>
/// <param name="Id">The outbox id (ClickHouse's deduplication key).</param>
/// <param name="Account">The account.</param>
/// <param name="Sku">The SKU.</param>
/// <param name="Quantity">The window's raw quantity.</param>
/// <param name="RecordCount">The window's records.</param>
/// <param name="Amount">The window's incremental charge (may be negative).</param>
public sealed record ReconcileInFlight(long Id, string Account, string Sku, decimal Quantity, long RecordCount, decimal Amount);
