using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Redis;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.SeenIds;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;
using StackExchange.Redis;

namespace Metering.Tests.Redis;

/// <summary>The Redis-backed dedup horizon shared by engine instances, against a real redis-server.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SharedDedupTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static async Task<Dictionary<(string, string), decimal>> TotalsAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT account, sku, sum(quantity) FROM billing_period_totals GROUP BY account, sku");
        await using var r = await cmd.ExecuteReaderAsync();
        var totals = new Dictionary<(string, string), decimal>();
        while (await r.ReadAsync())
        {
            totals[(r.GetString(0), r.GetString(1))] = r.GetDecimal(2);
        }

        return totals;
    }

    private static Dictionary<(string, string), decimal> Expected(GroundTruth truth, int copies) =>
        truth.Totals.ToDictionary(t => (t.Account, t.Sku), t => decimal.Parse(t.Quantity, System.Globalization.CultureInfo.InvariantCulture) * copies);

    /// <summary>
    /// Two pipelines (say two regions: their own topic and consumer group, one ledger) receive the same records, as a
    /// client retrying against the other region would send them. Returns the ledger's totals and the second engine.
    /// </summary>
    private async Task<(Dictionary<(string, string), decimal> Totals, GroundTruth Truth, StreamingEngine Second)> TwoRegionsAsync(string name, Func<ISharedDedup?> shared)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 5_000, Accounts = 200, DuplicateShare = 0.02, BadShare = 0.01, Seed = name.Length }).Generate(workload);
        var engines = new List<StreamingEngine>();
        foreach (var region in new[] { "eu", "us" })
        {
            var topic = $"{name}-{region}";
            _kafka.CreateTopic(topic, 3, 1);
            await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, new MemoryStream(workload.ToArray()), null, CancellationToken.None);
            var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, ConsumerGroup = "metering-" + region, FlushInterval = TimeSpan.FromMilliseconds(200), SharedDedup = shared() };
            var engine = new StreamingEngine(options, db, null);
            await Streaming.EngineRuns.RunUntilCommittedAsync(engine, db, options, Streaming.TopicLog.Messages(_kafka.BootstrapServers, topic));
            engines.Add(engine);
            await Task.Delay(300); // the marks are sent after each commit, asynchronously
        }

        return (await TotalsAsync(db), truth, engines[1]);
    }

    [Fact]
    public async Task The_same_records_reaching_two_engine_instances_are_counted_once_with_the_shared_redis_horizon()
    {
        using var connection = redis.Connect();
        var (totals, truth, second) = await TwoRegionsAsync("shared-dedup", () => new RedisDedup(connection, "test:shared-dedup:", TimeSpan.FromHours(24)));
        Assert.Equal(Expected(truth, 1), totals);
        Assert.Equal(truth.Accepted, second.SharedDuplicates); // every good record of the second copy was known in Redis
    }

    [Fact]
    public async Task Without_the_shared_horizon_the_same_records_reaching_two_instances_are_counted_twice()
    {
        // The control for the test above: each instance's own horizon cannot see the other's records.
        var (totals, truth, second) = await TwoRegionsAsync("local-dedup", () => null);
        Assert.Equal(Expected(truth, 2), totals);
        Assert.Equal(0, second.SharedDuplicates);
    }

    [Fact]
    public async Task Ids_are_marked_only_after_their_flush_committed()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        using var connection = redis.Connect();
        var dedup = new RedisDedup(connection, "test:mark-after-commit:", TimeSpan.FromHours(24));
        _kafka.CreateTopic("mark-after-commit", 2, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 3_000, Accounts = 50, DuplicateShare = 0, BadShare = 0 }).Generate(workload);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "mark-after-commit", new MemoryStream(workload.ToArray()), null, CancellationToken.None);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "mark-after-commit", MaxRecordsPerFlush = 1_000, CrashAfterRecords = 2_500, SharedDedup = dedup };

        // The engine crashes after 2,500 records with at most 2,000 committed: the uncommitted ids must not be marked,
        // or the restarted engine would drop their records as duplicates (the claim-then-fail bug).
        using (var stop = new CancellationTokenSource())
        {
            await new StreamingEngine(options, db, null).RunAsync(stop.Token);
        }

        await Task.Delay(300);
        var committed = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
        Assert.InRange(committed, 1, 2_499);
        // Every mark stands for a committed record (a commit whose mark the crash prevented is allowed: PostgreSQL's
        // persisted horizon still has those ids); no uncommitted record was marked.
        Assert.InRange(dedup.Marked, 1, committed);

        await Streaming.EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options with { CrashAfterRecords = 0 }, db, null), db, options, Streaming.TopicLog.Messages(_kafka.BootstrapServers, options.Topic));
        Assert.Equal(Expected(truth, 1), await TotalsAsync(db));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(Streaming.TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
    }

    [Fact]
    public async Task Redis_killed_and_restarted_mid_run_leaves_the_totals_exact_and_the_outage_is_reported()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        using var connection = redis.Connect();
        var dedup = new RedisDedup(connection, "test:outage:", TimeSpan.FromHours(24));
        _kafka.CreateTopic("redis-outage", 3, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 30_000, Accounts = 300, DuplicateShare = 0.03, BadShare = 0.01 }).Generate(workload);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "redis-outage", FlushInterval = TimeSpan.FromMilliseconds(200), SharedDedup = dedup };
        var producing = WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(workload.ToArray()), null, CancellationToken.None, recordsPerSecond: 6_000);
        var engine = new StreamingEngine(options, db, null);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        while (engine.Read < 5_000 && !run.IsCompleted)
        {
            await Task.Delay(20);
        }

        await redis.KillAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (engine.SharedDedupDegradedChunks == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        await Task.Delay(1_000);
        await redis.StartAsync();
        await producing;
        deadline = DateTime.UtcNow.AddSeconds(60);
        var messages = Streaming.TopicLog.Messages(_kafka.BootstrapServers, options.Topic);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < messages && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await run;
        Assert.True(engine.SharedDedupDegradedChunks > 0, "the outage should have been noticed");
        Assert.False(dedup.Degraded, "Redis is back: the store should have recovered");
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(Streaming.TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
    }
}
