namespace Metering.Ledger.Quotas;

/// <summary>What one dispatch round did with one alert, recorded by <see cref="AlertOutbox.MarkAsync"/>.</summary>
/// <param name="AlertId">The alert's id.</param>
/// <param name="Kafka">The alerts topic acknowledged it in this round.</param>
/// <param name="Webhook">The webhook answered 2xx in this round.</param>
/// <param name="Attempts">Delivery attempts made in this round (added to the alert's count).</param>
/// <param name="Error">The last error of this round, or null to keep the stored one.</param>
/// <param name="Failed">A channel that was needed stays undelivered: the alert backs off before the next try.</param>
public sealed record AlertDelivery(Guid AlertId, bool Kafka, bool Webhook, int Attempts, string? Error, bool Failed);
