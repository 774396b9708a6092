using Metering.Analytics;

namespace Metering.Web.Api;

/// <summary>
/// How <c>GET /v1/operators/reconcile</c> reconciles a period: registered by the host that has the ClickHouse
/// transport (<c>metering serve</c> with a usage store); without it the endpoint answers 503. Thread-safe if the
/// delegate is.
/// </summary>
/// <param name="Run">Reconciles the period starting at the given instant (an <see cref="AnalyticsReconciler"/>).</param>
public sealed record OperatorReconcile(Func<DateTimeOffset, CancellationToken, Task<ReconcileReport>> Run);
