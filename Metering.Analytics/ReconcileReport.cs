
namespace Metering.Analytics;

/// <summary>The outcome of reconciling one billing period.</summary>
/// <param name="PeriodStart">The period compared.</param>
/// <param name="LedgerKeys">(account, sku) rows in billing_period_totals for the period.</param>
/// <param name="AnalyticsKeys">(account, sku) groups in ClickHouse for the period.</param>
/// <param name="InFlight">Outbox rows of the period not yet in ClickHouse, counted on the ClickHouse side.</param>
/// <param name="Drifts">Every difference; empty when clean.</param>
public sealed record ReconcileReport(DateTimeOffset PeriodStart, int LedgerKeys, int AnalyticsKeys, int InFlight, IReadOnlyList<ReconcileDrift> Drifts);
