using Confluent.Kafka;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>Faults from the streaming issue: each run must end with totals equal to the ground truth and verify clean.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StreamingFaultTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 3);

    public void Dispose() => _kafka.Dispose();

    private async Task<(NpgsqlDataSource Db, GroundTruth Truth, StreamingOptions Options, byte[] Workload)> SetUpAsync(string topic, int records, int partitions = 6)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, partitions, 3);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records, Accounts = 300, DuplicateShare = 0.03, BadShare = 0.01 }).Generate(workload);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), MaxRecordsPerFlush = 3_000 };
        return (NpgsqlDataSource.Create(connectionString), truth, options, workload.ToArray());
    }

    private Task ProduceAsync(string topic, byte[] workload) =>
        WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, new MemoryStream(workload), null, CancellationToken.None);

    private static (Task Run, CancellationTokenSource Stop) Start(StreamingEngine engine)
    {
        var stop = new CancellationTokenSource();
        return (Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap(), stop);
    }

    private async Task WaitForCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected)
    {
        expected = Math.Max(expected, TopicLog.Messages(_kafka.BootstrapServers, options.Topic)); // see TopicLog
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }

    private static async Task StopAsync((Task Run, CancellationTokenSource Stop) engine)
    {
        await engine.Stop.CancelAsync();
        await engine.Run;
        engine.Stop.Dispose();
    }

    [Fact]
    public async Task A_second_engine_joining_and_leaving_mid_stream_loses_and_doubles_nothing()
    {
        var (db, truth, options, workload) = await SetUpAsync("fault-rebalance", 30_000);
        await using (db)
        {
            // The workload in two halves, so data is still flowing when the second engine has joined.
            var middle = Array.IndexOf(workload, (byte)'\n', workload.Length / 2) + 1;
            await ProduceAsync(options.Topic, workload[..middle]);
            var first = new StreamingEngine(options, db, null);
            var a = Start(first);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (first.Read < 5_000 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            var second = new StreamingEngine(options, db, null);
            var b = Start(second); // joins: partitions are revoked from the first (flushed) and assigned to it
            while (second.AssignedPartitions == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            await ProduceAsync(options.Topic, workload[middle..]);
            while (second.Read == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            await StopAsync(b); // leaves cleanly: its partitions go back to the first
            await WaitForCommittedAsync(db, options, truth.Read);
            await StopAsync(a);

            Assert.True(second.Read > 0, "the second engine should have taken part");
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
        }
    }

    [Fact]
    public async Task The_same_input_produced_twice_is_counted_once()
    {
        var (db, truth, options, workload) = await SetUpAsync("fault-twice", 10_000);
        await using (db)
        {
            await ProduceAsync(options.Topic, workload);
            await ProduceAsync(options.Topic, workload);
            var engine = Start(new StreamingEngine(options, db, null));
            await WaitForCommittedAsync(db, options, truth.Read * 2);
            await StopAsync(engine);

            // The second copy is all duplicates (good records) or rejects again (bad ones); totals are unchanged.
            var doubled = new GroundTruth
            {
                Read = truth.Read * 2,
                Accepted = truth.Accepted,
                Duplicates = truth.Duplicates + truth.Accepted + truth.Duplicates,
                Totals = truth.Totals,
            };
            foreach (var (reason, count) in truth.Rejected)
            {
                doubled.Rejected[reason] = count * 2;
            }

            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(doubled), CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_broker_down_for_seconds_during_consumption_loses_nothing()
    {
        var (db, truth, options, workload) = await SetUpAsync("fault-broker", 20_000);
        await using (db)
        {
            var producing = ProduceAsync(options.Topic, workload);
            var engine = new StreamingEngine(options, db, null);
            var run = Start(engine);
            while (engine.Read < 3_000)
            {
                await Task.Delay(20);
            }

            _kafka.SetBrokerDown(2);
            await Task.Delay(TimeSpan.FromSeconds(3));
            _kafka.SetBrokerUp(2);
            await producing;
            await WaitForCommittedAsync(db, options, truth.Read);
            await StopAsync(run);
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_poison_record_in_every_partition_is_dead_lettered_and_the_partitions_keep_flowing()
    {
        const int Partitions = 6;
        var (db, truth, options, workload) = await SetUpAsync("fault-poison", 6_000, Partitions);
        await using (db)
        {
            using (var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
            {
                for (var p = 0; p < Partitions; p++)
                {
                    byte[][] poisons = [[0xFF, 0xFE, 0x00], "{\"id\":"u8.ToArray(), new byte[20_000]];
                    foreach (var poison in poisons)
                    {
                        await producer.ProduceAsync(new TopicPartition(options.Topic, p), new Message<string?, byte[]> { Value = poison });
                    }
                }
            }

            _kafka.CreateTopic(options.Topic + ".dead-letters", 2, 3);
            await ProduceAsync(options.Topic, workload);
            var engine = new StreamingEngine(options, db, null);
            var run = Start(engine);
            await WaitForCommittedAsync(db, options, truth.Read + (3 * Partitions));
            await StopAsync(run);

            var expected = new GroundTruth { Read = truth.Read + (3 * Partitions), Accepted = truth.Accepted, Duplicates = truth.Duplicates, Totals = truth.Totals };
            foreach (var (reason, count) in truth.Rejected)
            {
                expected.Rejected[reason] = count;
            }

            expected.Rejected["poison"] = 3 * Partitions; // only the sum of rejects is compared
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(expected), CancellationToken.None));
            await using var perPartition = db.CreateCommand("SELECT count(DISTINCT partition) FROM dead_letters WHERE reason IN ('invalid_utf8', 'malformed_json', 'line_too_long')");
            Assert.Equal(Partitions, (long)(await perPartition.ExecuteScalarAsync())!);

            // Every dead letter is also on the dead-letter topic, with its reason and where it came from.
            Assert.Equal(0, engine.DeadLetterPublishFailures);
            var rejected = truth.Rejected.Values.Sum() + (3 * Partitions);
            Assert.Equal(rejected, engine.DeadLettersPublished);
            using var dlq = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "dlq-reader", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
            dlq.Subscribe(options.Topic + ".dead-letters");
            var reasons = new Dictionary<string, int>();
            var keys = new HashSet<string>();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (keys.Count < rejected && DateTime.UtcNow < deadline)
            {
                if (dlq.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m })
                {
                    keys.Add(m.Key);
                    var reason = System.Text.Encoding.UTF8.GetString(m.Headers.GetLastBytes("reason"));
                    reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                }
            }

            Assert.Equal(rejected, keys.Count);
            Assert.True(reasons.GetValueOrDefault("invalid_utf8") >= Partitions, "each partition's invalid UTF-8 poison is on the topic");
            dlq.Close();
        }
    }

    [Fact]
    public async Task PostgreSQL_crashing_and_restarting_during_flushes_loses_and_doubles_nothing()
    {
        var (db, truth, options, workload) = await SetUpAsync("fault-postgres", 40_000);
        await using (db)
        {
            var producing = WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(workload), null, CancellationToken.None, recordsPerSecond: 8_000);
            var engine = new StreamingEngine(options, db, null);
            var run = Start(engine);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (engine.Flushes < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }

            // An immediate stop is a crash: the flush transaction in flight (one every 200 ms) dies with it.
            await postgres.Server.StopAsync(immediate: true);
            await Task.Delay(TimeSpan.FromSeconds(2));
            await postgres.Server.StartAsync();
            await producing;
            await WaitForCommittedAsync(db, options, truth.Read);
            await StopAsync(run);

            Assert.True(engine.FlushRetries > 0, "a flush should have failed and been retried while PostgreSQL was down");
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
        }
    }

    [Fact]
    public async Task Records_deleted_by_retention_before_they_were_consumed_are_reported_as_data_loss_and_the_partition_goes_on()
    {
        var (db, truth, options, workload) = await SetUpAsync("fault-retention", 1_000, partitions: 1);
        await using (db)
        {
            await ProduceAsync(options.Topic, workload);
            var first = Start(new StreamingEngine(options, db, null));
            await WaitForCommittedAsync(db, options, truth.Read);
            await StopAsync(first);

            // While no engine runs, more than the mock partition's 5 MiB of retention arrives (uncompressed): the
            // broker deletes the oldest records, including ones the ledger has not consumed yet.
            using var filler = new MemoryStream();
            new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 70_000, Accounts = 300, Seed = 7, DuplicateShare = 0, BadShare = 0 }).Generate(filler);
            await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(filler.ToArray()), null, CancellationToken.None, compression: CompressionType.None);
            WatermarkOffsets marks;
            using (var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "probe" }).Build())
            {
                marks = probe.QueryWatermarkOffsets(new TopicPartition(options.Topic, 0), TimeSpan.FromSeconds(10));
            }

            Assert.True(marks.Low.Value > truth.Read, $"precondition: retention should have deleted offsets {truth.Read}.. (low watermark {marks.Low.Value})");

            var engine = new StreamingEngine(options, db, null);
            var second = Start(engine);
            var expectedRead = truth.Read + (marks.High.Value - marks.Low.Value);
            await WaitForCommittedAsync(db, options, expectedRead);
            await StopAsync(second);

            Assert.Equal(marks.Low.Value - truth.Read, engine.LostRecords);
            Assert.Equal(expectedRead, await PipelineRun.CommittedAsync(db, options, CancellationToken.None)); // the partition kept flowing
            var problems = await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None);
            var loss = Assert.Single(problems);
            Assert.Contains($"offsets {truth.Read}..{marks.Low.Value - 1}", loss, StringComparison.Ordinal);
            Assert.Contains("data loss", loss, StringComparison.Ordinal);
        }
    }
}
