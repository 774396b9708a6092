using System.Text.Json;
using Confluent.Kafka;

namespace Metering.DevKit.Workload;

/// <summary>
/// Produces NDJSON usage lines into the usage topic, one record per message, keyed by account (so an account's
/// records share a partition: dedup and rating stay partition-local) with the murmur2 partitioner of
/// <see cref="Metering.Ingest.Kafka.KafkaPartitioning"/>. Idempotent producer, acks=all, lz4.
/// A line without a readable account (a bad record) is produced without a key.
/// </summary>
public static class WorkloadProducer
{
    /// <summary>
    /// Produces every line of <paramref name="input"/>; returns the number of messages acknowledged.
    /// <paramref name="recordsPerSecond"/> paces production (a steady edge load instead of a burst);
    /// <paramref name="compression"/> defaults to lz4.
    /// </summary>
    public static async Task<long> ProduceAsync(string bootstrapServers, string topic, Stream input, IProgress<long>? progress, CancellationToken cancellationToken,
        double? recordsPerSecond = null, CompressionType compression = CompressionType.Lz4)
    {
        var config = Metering.Ingest.Kafka.KafkaPartitioning.Apply(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = compression,
            LingerMs = 5,
            BatchSize = 1 << 20,
            QueueBufferingMaxMessages = 500_000,
            MessageTimeoutMs = 120_000,
        });
        using var producer = new ProducerBuilder<string?, byte[]>(config).Build();
        long sent = 0, acknowledged = 0, failed = 0;
        Error? lastError = null;
        void Report(DeliveryReport<string?, byte[]> r)
        {
            if (r.Error.IsError)
            {
                Interlocked.Increment(ref failed);
                lastError = r.Error;
            }
            else
            {
                Interlocked.Increment(ref acknowledged);
            }
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();

        // Lines are read as bytes: a record that is not valid UTF-8 must reach the engine as it is (and be
        // dead-lettered there), not be "repaired" by a text decoder.
        foreach (var line in Lines(input))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var message = new Message<string?, byte[]> { Key = AccountOf(line), Value = line };
            while (true)
            {
                try
                {
                    producer.Produce(topic, message, Report);
                    break;
                }
                catch (ProduceException<string?, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50)); // backpressure: wait for deliveries
                }
            }

            if (++sent % 100_000 == 0)
            {
                progress?.Report(sent);
            }

            if (recordsPerSecond is { } rate && sent % 100 == 0)
            {
                var ahead = TimeSpan.FromSeconds(sent / rate) - clock.Elapsed;
                if (ahead > TimeSpan.Zero)
                {
                    await Task.Delay(ahead, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        producer.Flush(cancellationToken);
        if (Interlocked.Read(ref failed) > 0)
        {
            throw new InvalidOperationException($"{failed} of {sent} messages were not delivered to {topic}: {lastError}");
        }

        return Interlocked.Read(ref acknowledged);
    }

    /// <summary>The non-empty lines of <paramref name="input"/> as byte arrays (CR of CRLF removed).</summary>
    private static IEnumerable<byte[]> Lines(Stream input)
    {
        var buffer = new byte[1 << 20];
        var pending = new MemoryStream();
        int n;
        while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }

                pending.Write(buffer, start, i - start);
                start = i + 1;
                if (Take(pending) is { } line)
                {
                    yield return line;
                }
            }

            pending.Write(buffer, start, n - start);
        }

        if (Take(pending) is { } last)
        {
            yield return last;
        }
    }

    private static byte[]? Take(MemoryStream pending)
    {
        var line = pending.ToArray();
        pending.SetLength(0);
        var length = line.Length > 0 && line[^1] == (byte)'\r' ? line.Length - 1 : line.Length;
        return length == 0 ? null : line.AsSpan(0, length).ToArray();
    }

    private static string? AccountOf(byte[] line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("account"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }
        }
        catch (JsonException)
        {
            // malformed: produced without a key, the engine dead-letters it
        }
        catch (InvalidOperationException)
        {
        }

        return null;
    }
}
