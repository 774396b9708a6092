using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>The dead-letter topic is fed from an outbox (dead_letters.published_at): a kill after the commit loses none.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DeadLetterOutboxTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_kill_between_the_commit_and_producing_the_dead_letters_loses_none_of_them_after_a_restart()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        _kafka.CreateTopic("outbox", 2);
        _kafka.CreateTopic("outbox.dead-letters", 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 3_000, Accounts = 100, DuplicateShare = 0, BadShare = 0.05 }).Generate(workload);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "outbox", new MemoryStream(workload.ToArray()), null, CancellationToken.None);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "outbox", FlushInterval = TimeSpan.FromMilliseconds(200), Log = TextWriter.Null };

        // Killed right after its first commit: the dead letters of that flush are in PostgreSQL only.
        var crashing = new StreamingEngine(options with { CrashAfterFlushes = 1 }, db, null);
        await crashing.RunAsync(CancellationToken.None);
        Assert.Equal(1, crashing.Flushes);
        Assert.Equal(0, crashing.DeadLettersPublished);
        long stranded;
        await using (var cmd = db.CreateCommand("SELECT count(*) FROM dead_letters WHERE published_at IS NULL"))
        {
            stranded = (long)(await cmd.ExecuteScalarAsync())!;
        }

        Assert.True(stranded > 0, "precondition: the killed engine's first flush held dead letters");

        var restarted = new StreamingEngine(options, db, null);
        await EngineRuns.RunUntilCommittedAsync(restarted, db, options, truth.Read);
        var rejected = truth.Rejected.Values.Sum();
        await using (var cmd = db.CreateCommand("SELECT count(*), count(published_at) FROM dead_letters"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal((rejected, rejected), (r.GetInt64(0), r.GetInt64(1))); // every row marked published
        }

        using var dlq = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "outbox-reader", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        dlq.Subscribe("outbox.dead-letters");
        var keys = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (keys.Count < rejected && DateTime.UtcNow < deadline)
        {
            if (dlq.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m })
            {
                keys.Add(m.Key);
            }
        }

        dlq.Close();
        var expected = new HashSet<string>();
        await using (var cmd = db.CreateCommand("SELECT partition || ':' || \"offset\" FROM dead_letters"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                expected.Add(r.GetString(0));
            }
        }

        Assert.Equal(expected.Order(), keys.Order()); // the topic holds every dead letter, the stranded ones included
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, "outbox")), CancellationToken.None));
    }
}
