
namespace Metering.Ingest.Alerts;

/// <summary>What one round delivered.</summary>
public readonly record struct DispatchResult(int Alerts, int KafkaDelivered, int WebhookDelivered, int Failed);
