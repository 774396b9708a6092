using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Dedup;
using Metering.DevKit.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Metering.UnitTests.Decoding;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// A record re-sent with the same id and another payload, through the real streaming path (Kafka mock cluster, real
/// PostgreSQL): a conflict dead letter, counted, never silently dropped as a duplicate; across a restart too.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StreamingConflictTests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    internal static string Record(string id, string quantity, string sku = "api.requests", string account = "acct-1") =>
        StreamingAdmissionTests.Record(id, account, sku, quantity, Now.AddMinutes(-5));

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options)> SetUpAsync(string topic)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, 3, 1);
        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "",
            Pipeline = new AggregationPipelineOptions { Decoder = new DecoderOptions { Clock = new MovableClock(Now) } },
        };
        return (NpgsqlDataSource.Create(connectionString), options);
    }

    internal static void Produce(string bootstrap, string topic, params string[] values)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        foreach (var value in values)
        {
            producer.Produce(topic, new Message<string, byte[]> { Key = "acct-1", Value = Encoding.UTF8.GetBytes(value) });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    internal static async Task<decimal> QuantityAsync(NpgsqlDataSource db, string sku = "api.requests")
    {
        await using var cmd = db.CreateCommand("SELECT coalesce(sum(quantity), 0) FROM billing_period_totals WHERE account = 'acct-1' AND sku = $1");
        cmd.Parameters.Add(new() { Value = sku });
        return (decimal)(await cmd.ExecuteScalarAsync())!;
    }

    internal static async Task<List<(string Reason, string Detail, string Raw)>> DeadLettersAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT reason, detail, convert_from(raw, 'UTF8') FROM dead_letters ORDER BY partition, \"offset\"");
        await using var reader = await cmd.ExecuteReaderAsync();
        var result = new List<(string, string, string)>();
        while (await reader.ReadAsync())
        {
            result.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return result;
    }

    internal static async Task<(long Duplicates, long Rejected)> BalanceAsync(NpgsqlDataSource db, StreamingOptions options)
    {
        await using var cmd = db.CreateCommand("SELECT coalesce(sum(duplicates), 0)::bigint, coalesce(sum(rejected), 0)::bigint FROM conservation WHERE consumer_group = $1 AND topic = $2");
        cmd.Parameters.Add(new() { Value = options.ConsumerGroup });
        cmd.Parameters.Add(new() { Value = options.Topic });
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Counts what the engine adds to <c>metering.records.conflicts</c> (the Prometheus series metering_records_conflicts_total).</summary>
    internal sealed class ConflictCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public ConflictCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Metering" && instrument.Name == "metering.records.conflicts")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task The_same_id_with_another_quantity_is_a_conflict_dead_letter_and_the_first_quantity_stays_billed()
    {
        var (db, options) = await SetUpAsync("conflict-quantity");
        await using (db)
        {
            using var counter = new ConflictCounter();
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "1.5"), Record("e-1", "2.5"), Record("e-2", "1"));
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 3);

            Assert.Equal(2.5m, await QuantityAsync(db)); // 1.5 (e-1, first) + 1 (e-2); the 2.5 is not billed
            var letter = Assert.Single(await DeadLettersAsync(db));
            Assert.Equal("conflict", letter.Reason);
            Assert.Contains("id 'e-1' of account 'acct-1'", letter.Detail, StringComparison.Ordinal);
            Assert.Contains(ConflictDetail.Text, letter.Detail, StringComparison.Ordinal);
            Assert.Contains("\"2.5\"", letter.Raw, StringComparison.Ordinal);
            Assert.Equal(1, engine.Conflicts);
            Assert.True(counter.Total >= 1, $"metering.records.conflicts moved by {counter.Total}");
            Assert.Equal((0L, 1L), await BalanceAsync(db, options)); // a rejected record, not a duplicate
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task The_same_id_with_the_same_payload_written_differently_is_a_duplicate()
    {
        var (db, options) = await SetUpAsync("conflict-same");
        await using (db)
        {
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "1.5"), Record("e-1", "1.50"), Record("e-1", "1.500000000"));
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 3);

            Assert.Equal(1.5m, await QuantityAsync(db));
            Assert.Empty(await DeadLettersAsync(db));
            Assert.Equal(0, engine.Conflicts);
            Assert.Equal((2L, 0L), await BalanceAsync(db, options));
        }
    }

    [Fact]
    public async Task The_same_id_with_another_sku_is_a_conflict_too()
    {
        var (db, options) = await SetUpAsync("conflict-sku");
        await using (db)
        {
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "1"), Record("e-1", "1", sku: "storage.bytes"));
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 2);

            Assert.Equal(1m, await QuantityAsync(db));
            Assert.Equal(0m, await QuantityAsync(db, "storage.bytes"));
            Assert.Equal("conflict", Assert.Single(await DeadLettersAsync(db)).Reason);
        }
    }

    [Fact]
    public async Task After_a_restart_the_persisted_horizon_still_tells_a_conflict_from_a_duplicate()
    {
        var (db, options) = await SetUpAsync("conflict-restart");
        await using (db)
        {
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "1.5"));
            await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, 1);

            // A fresh engine of the same group: its horizon is rebuilt from seen_id_batches, not from memory.
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "2"), Record("e-1", "1.50"));
            var second = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(second, db, options, 3);

            Assert.Equal(1.5m, await QuantityAsync(db));
            Assert.Equal(1, second.Conflicts);
            var letter = Assert.Single(await DeadLettersAsync(db));
            Assert.Equal("conflict", letter.Reason);
            Assert.Contains("\"2\"", letter.Raw, StringComparison.Ordinal);
            Assert.Equal((1L, 1L), await BalanceAsync(db, options));
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Ids_persisted_in_the_old_blob_format_are_still_remembered_as_duplicates_after_a_restart()
    {
        var (db, options) = await SetUpAsync("conflict-v1-blob");
        await using (db)
        {
            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "1.5"));
            await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, 1);
            // Rewrite the stored blob as a version 1 blob (what the previous release wrote): fingerprint + ticks only.
            await using (var cmd = db.CreateCommand("UPDATE seen_id_batches SET fingerprints = substring(fingerprints from 2 for 16) || substring(fingerprints from 26 for 8)"))
            {
                Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
            }

            Produce(_kafka.BootstrapServers, options.Topic, Record("e-1", "2"));
            var second = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(second, db, options, 2);

            // Without a stored digest nothing can tell: it stays a duplicate, as before (never counted twice).
            Assert.Equal(1.5m, await QuantityAsync(db));
            Assert.Empty(await DeadLettersAsync(db));
            Assert.Equal((1L, 0L), await BalanceAsync(db, options));
        }
    }
}
