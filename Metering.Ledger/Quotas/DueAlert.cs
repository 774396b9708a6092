namespace Metering.Ledger.Quotas;

/// <summary>An alert of the <c>alerts</c> outbox that is due for delivery, as <see cref="AlertOutbox.LoadDueAsync"/> read it.</summary>
/// <param name="Alert">The alert (its id travels with every delivery).</param>
/// <param name="NeedsKafka">Kafka is a channel asked for and the alert is not delivered there yet.</param>
/// <param name="NeedsWebhook">The webhook is a channel asked for and the alert is not delivered there yet.</param>
public sealed record DueAlert(Alert Alert, bool NeedsKafka, bool NeedsWebhook);
