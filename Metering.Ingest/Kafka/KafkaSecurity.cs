using Confluent.Kafka;

namespace Metering.Ingest.Kafka;

/// <summary>
/// How the engine's Kafka clients authenticate: security protocol and SASL credentials (the Helm chart passes them
/// as METERING_KAFKA_* environment variables from a Secret; the CLI reads them in KafkaArguments). Default: plaintext, as the embedded broker speaks.
/// </summary>
public sealed record KafkaSecurity(SecurityProtocol Protocol, SaslMechanism? Mechanism, string? Username, string? Password)
{
    /// <summary>Plaintext, no SASL.</summary>
    public static KafkaSecurity Plaintext { get; } = new(SecurityProtocol.Plaintext, null, null, null);

    /// <summary>Applies the settings to a consumer, producer or admin client configuration.</summary>
    public T Apply<T>(T config)
        where T : ClientConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        config.SecurityProtocol = Protocol;
        if (Mechanism is { } m)
        {
            config.SaslMechanism = m;
            config.SaslUsername = Username;
            config.SaslPassword = Password;
        }

        return config;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Protocol}{(Mechanism is null ? "" : $" {Mechanism} as {Username}")}"; // never the password
}
