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

/// <summary>
/// A partition's first assignment to a group (no offset in PostgreSQL) on a log whose start retention already moved:
/// [0, low watermark) is data loss, recorded and failed on by verify, unless the operator says the log start is the
/// whole history.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FirstAssignmentGapTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options, long Low, long Messages, StringWriter Log)> RunAsync(string topic, StartOffsetPolicy policy)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        var db = NpgsqlDataSource.Create(connectionString);
        _kafka.CreateTopic(topic, 2);
        using var workload = new MemoryStream();
        new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 4_000, Accounts = 100, DuplicateShare = 0, BadShare = 0 }).Generate(workload);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, new MemoryStream(workload.ToArray()), null, CancellationToken.None);
        _kafka.DeleteRecords(topic, 0, 500); // retention, before this group ever read partition 0
        long low;
        using (var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "probe" }).Build())
        {
            low = probe.QueryWatermarkOffsets(new TopicPartition(topic, 0), TimeSpan.FromSeconds(10)).Low.Value;
        }

        Assert.True(low > 0, "precondition: the log of partition 0 starts after offset 0");
        var messages = TopicLog.Messages(_kafka.BootstrapServers, topic);
        var log = new StringWriter();
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), StartOffset = policy, Log = TextWriter.Synchronized(log) };
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, messages, timeoutSeconds: 60);
        Assert.Equal(messages, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
        return (db, options, low, messages, log);
    }

    [Fact]
    public async Task Records_deleted_before_a_partitions_first_assignment_are_recorded_as_a_gap_and_verify_fails_naming_it()
    {
        var (db, options, low, _, log) = await RunAsync("first-gap", StartOffsetPolicy.FromZero);
        await using (db)
        {
            await using (var cmd = db.CreateCommand("SELECT partition, from_offset, to_offset FROM offset_gaps WHERE topic = 'first-gap'"))
            await using (var r = await cmd.ExecuteReaderAsync())
            {
                Assert.True(await r.ReadAsync());
                Assert.Equal((0, 0L, low), (r.GetInt32(0), r.GetInt64(1), r.GetInt64(2)));
                Assert.False(await r.ReadAsync());
            }

            var problem = Assert.Single(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
            Assert.Contains($"partition 0: offsets 0..{low - 1}", problem, StringComparison.Ordinal);
            Assert.Contains("data loss", problem, StringComparison.Ordinal);
            Assert.Contains($"DATA LOSS: first-gap[0] offsets 0..{low - 1}", log.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_earliest_is_complete_the_log_start_is_the_history_and_verify_is_clean()
    {
        var (db, options, _, _, log) = await RunAsync("first-complete", StartOffsetPolicy.EarliestIsComplete);
        await using (db)
        {
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
            Assert.DoesNotContain("DATA LOSS", log.ToString(), StringComparison.Ordinal);
        }
    }
}
