using Confluent.Kafka;
using Metering.Ingest.Cli;

namespace Metering.Ingest.Kafka;

/// <summary>
/// How the engine's Kafka clients authenticate: security protocol and SASL credentials (the Helm chart passes them
/// as METERING_KAFKA_* environment variables from a Secret). Default: plaintext, as the embedded broker speaks.
/// </summary>
public sealed record KafkaSecurity(SecurityProtocol Protocol, SaslMechanism? Mechanism, string? Username, string? Password)
{
    /// <summary>Plaintext, no SASL.</summary>
    public static KafkaSecurity Plaintext { get; } = new(SecurityProtocol.Plaintext, null, null, null);

    /// <summary>Usage text of the options.</summary>
    public const string Usage = """
          --kafka-security-protocol P  plaintext | ssl | sasl_plaintext | sasl_ssl (default plaintext)
          --kafka-sasl-mechanism M     plain | scram-sha-256 | scram-sha-512 (with a sasl_* protocol)
          --kafka-sasl-username U, --kafka-sasl-password W   SASL credentials (prefer METERING_KAFKA_SASL_PASSWORD)

        """;

    /// <summary>Reads the options; a SASL protocol without a mechanism and credentials is a usage error.</summary>
    public static KafkaSecurity FromArguments(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var protocol = (args.String("kafka-security-protocol") ?? "plaintext").ToLowerInvariant() switch
        {
            "plaintext" => SecurityProtocol.Plaintext,
            "ssl" => SecurityProtocol.Ssl,
            "sasl_plaintext" => SecurityProtocol.SaslPlaintext,
            "sasl_ssl" => SecurityProtocol.SaslSsl,
            var other => throw new CliUsageException($"--kafka-security-protocol: '{other}' is not one of plaintext, ssl, sasl_plaintext, sasl_ssl"),
        };
        var mechanismText = args.String("kafka-sasl-mechanism");
        SaslMechanism? mechanism = mechanismText?.ToLowerInvariant() switch
        {
            null => null,
            "plain" => SaslMechanism.Plain,
            "scram-sha-256" => SaslMechanism.ScramSha256,
            "scram-sha-512" => SaslMechanism.ScramSha512,
            var other => throw new CliUsageException($"--kafka-sasl-mechanism: '{other}' is not one of plain, scram-sha-256, scram-sha-512"),
        };
        var username = args.String("kafka-sasl-username");
        var password = args.String("kafka-sasl-password");
        if (protocol is SecurityProtocol.SaslPlaintext or SecurityProtocol.SaslSsl && (mechanism is null || username is null || password is null))
        {
            throw new CliUsageException("a sasl_* Kafka security protocol needs --kafka-sasl-mechanism, --kafka-sasl-username and --kafka-sasl-password");
        }

        return new KafkaSecurity(protocol, mechanism, username, password);
    }

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
