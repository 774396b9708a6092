namespace Metering.Ingest.CloudEvents;

/// <summary>What a Kafka message of the usage topic is, by its headers (<see cref="CloudEventDecoder.ModeOf"/>).</summary>
public enum KafkaContentMode
{
    /// <summary>A native usage record (no <c>ce_specversion</c> header, no CloudEvents content type).</summary>
    Native,
    /// <summary>Binary content mode: <c>ce_specversion</c> is a header.</summary>
    Binary,
    /// <summary>Structured content mode: <c>content-type: application/cloudevents+json</c>.</summary>
    Structured,
    /// <summary><c>content-type: application/cloudevents-batch+json</c>, which the Kafka binding does not define.</summary>
    Batch,
}
