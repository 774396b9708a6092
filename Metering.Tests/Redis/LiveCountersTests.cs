using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Redis;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Totals;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Redis;

/// <summary>Live usage counters in a real Redis, checked against the PostgreSQL totals they mirror.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LiveCountersTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static PriceCatalog Prices() =>
        new(PriceBookLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json")), []);

    /// <summary>Every open total in PostgreSQL, as the live counters should show it.</summary>
    private static async Task<List<(string Account, DateTimeOffset Period, LiveCounter Counter)>> LedgerAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT account, period_start, sku, record_count, quantity, amount, currency FROM billing_period_totals WHERE NOT closed ORDER BY account, period_start, sku");
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<(string, DateTimeOffset, LiveCounter)>();
        while (await r.ReadAsync())
        {
            rows.Add((r.GetString(0), new DateTimeOffset(r.GetDateTime(1), TimeSpan.Zero), new LiveCounter(r.GetString(2), r.GetInt64(3), r.GetDecimal(4), r.GetDecimal(5), r.GetString(6).Trim())));
        }

        return rows;
    }

    private static async Task<List<string>> DifferencesAsync(NpgsqlDataSource db, RedisLiveCounters counters)
    {
        var ledger = await LedgerAsync(db);
        Assert.NotEmpty(ledger);
        var differences = new List<string>();
        foreach (var group in ledger.GroupBy(t => (t.Account, t.Period)))
        {
            var live = await counters.ReadAsync(group.Key.Account, group.Key.Period);
            var expected = group.Select(t => t.Counter).ToList();
            if (!expected.SequenceEqual(live))
            {
                differences.Add($"{group.Key.Account} {group.Key.Period:yyyy-MM}: ledger [{string.Join(", ", expected)}] live [{string.Join(", ", live)}]");
            }
        }

        return differences;
    }

    private async Task<(NpgsqlDataSource Db, GroundTruth Truth, StreamingOptions Options, byte[] Workload)> SetUpAsync(string topic, int records, Func<NpgsqlDataSource, ILiveCounters> factory)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic(topic, 3, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records, Accounts = 200, DuplicateShare = 0.02, BadShare = 0.01 }).Generate(workload);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), LiveCounters = factory(db) };
        return (db, truth, options, workload.ToArray());
    }

    [Fact]
    public async Task Live_counters_equal_the_postgres_totals_after_a_run()
    {
        using var connection = redis.Connect();
        RedisLiveCounters? counters = null;
        var (db, truth, options, workload) = await SetUpAsync("live-counters", 10_000, db => counters = new RedisLiveCounters(connection, "test:live:", db));
        await using (db)
        {
            await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(workload), null, CancellationToken.None);
            await Streaming.EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, Prices()), db, options, truth.Read);
            await Task.Delay(300); // publishes follow each commit asynchronously
            Assert.Empty(await DifferencesAsync(db, counters!));
        }
    }

    [Fact]
    public async Task After_redis_lost_its_data_mid_run_the_counters_are_rebuilt_from_postgres()
    {
        using var connection = redis.Connect();
        RedisLiveCounters? counters = null;
        var (db, truth, options, workload) = await SetUpAsync("live-outage", 30_000, db => counters = new RedisLiveCounters(connection, "test:live-outage:", db));
        await using (db)
        {
            var producing = WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(workload), null, CancellationToken.None, recordsPerSecond: 8_000);
            var engine = new StreamingEngine(options, db, Prices());
            using var stop = new CancellationTokenSource();
            var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
            while (engine.Read < 8_000)
            {
                await Task.Delay(20);
            }

            await redis.KillAsync(); // no persistence: every counter written so far is gone
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!counters!.Stale && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.True(counters.Stale, "a publish should have failed while Redis was down");
            await redis.StartAsync();
            await producing;
            while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < truth.Read)
            {
                await Task.Delay(50);
            }

            await stop.CancelAsync();
            await run;
            deadline = DateTime.UtcNow.AddSeconds(30);
            while ((counters.Stale || counters.Rebuilds == 0) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.True(counters.Rebuilds > 0, "the counters should have been rebuilt from PostgreSQL");
            Assert.Empty(await DifferencesAsync(db, counters));
        }
    }
}
