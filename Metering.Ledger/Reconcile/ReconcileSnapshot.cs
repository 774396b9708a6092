namespace Metering.Ledger.Reconcile;

/// <summary>The ledger side of a reconcile of one period, read in one REPEATABLE READ snapshot by <see cref="ReconcileSnapshotQuery"/>.</summary>
/// <param name="Totals">One entry per (account, sku) of the period: billing totals plus adjustments referencing it.</param>
/// <param name="MaxOutboxId">The highest outbox id in the snapshot (0 when empty): ClickHouse is compared up to it.</param>
/// <param name="InFlight">The period's outbox rows not marked exported in the snapshot, in id order, at most the limit asked for.</param>
public sealed record ReconcileSnapshot(IReadOnlyList<ReconcileTotal> Totals, long MaxOutboxId, IReadOnlyList<ReconcileInFlight> InFlight);
