using Confluent.Kafka;
using Metering.Ingest.Kafka;

namespace Metering.Cli.Arguments;

/// <summary>The Kafka security options shared by every command that talks to Kafka (<see cref="KafkaSecurity"/>).</summary>
public static class KafkaArguments
{
    /// <summary>Usage text of the options.</summary>
    public const string Usage = """
          --kafka-security-protocol P  plaintext | ssl | sasl_plaintext | sasl_ssl (default plaintext)
          --kafka-sasl-mechanism M     plain | scram-sha-256 | scram-sha-512 (with a sasl_* protocol)
          --kafka-sasl-username U, --kafka-sasl-password W   SASL credentials (prefer METERING_KAFKA_SASL_PASSWORD)

        """;

    /// <summary>Reads the options; a SASL protocol without a mechanism and credentials is a usage error.</summary>
    public static KafkaSecurity Security(CliArguments args)
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
}
