using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

[Collection(PostgresCollection.Name)]
public sealed class StreamingEngineTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 3);

    public void Dispose() => _kafka.Dispose();

    private static PriceCatalog Prices() =>
        new(PriceBookLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json")), []);

    private async Task<(NpgsqlDataSource Db, GroundTruth Truth, StreamingOptions Options)> SetUpAsync(string topic, int records, int partitions = 6)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, partitions, 3);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records, Accounts = 500, DuplicateShare = 0.03, BadShare = 0.01 }).Generate(workload);
        workload.Position = 0;
        Assert.Equal(records, await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, workload, null, CancellationToken.None));
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(300) };
        return (NpgsqlDataSource.Create(connectionString), truth, options);
    }

    private static async Task RunUntilAsync(StreamingEngine engine, Func<bool> done, bool abandon = false)
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token, abandon), TaskCreationOptions.LongRunning).Unwrap();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!done() && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await run;
    }

    private static async Task<long> CommittedReadAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT coalesce(sum(read), 0)::bigint FROM conservation");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Kafka_to_postgres_totals_equal_the_ground_truth_and_verify_is_clean()
    {
        var (db, truth, options) = await SetUpAsync("usage-e2e", 20_000);
        await using (db)
        {
            var engine = new StreamingEngine(options, db, Prices());
            var messages = TopicLog.Messages(_kafka.BootstrapServers, options.Topic);
            await RunUntilAsync(engine, () => engine.Read >= messages);
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
            await using var amount = db.CreateCommand("SELECT count(*) FROM billing_period_totals WHERE amount > 0 AND price_book_hash LIKE 'sha256:%'");
            Assert.True((long)(await amount.ExecuteScalarAsync())! > 0, "rated totals carry amounts and lineage");
        }
    }

    [Fact]
    public async Task A_consumer_killed_without_flushing_and_restarted_loses_and_doubles_nothing()
    {
        var (db, truth, options) = await SetUpAsync("usage-crash", 20_000);
        await using (db)
        {
            // First engine: stops "dead" (no final flush, no clean leave) once part of the stream is committed.
            var first = new StreamingEngine(options with { MaxRecordsPerFlush = 2_000, CrashAfterRecords = 9_000 }, db, Prices());
            await RunUntilAsync(first, () => false);
            Assert.Equal(9_000, first.Read);
            var committedAfterCrash = await CommittedReadAsync(db);
            Assert.InRange(committedAfterCrash, 2_000, 8_999); // the crash lost an unflushed tail mid-stream

            var second = new StreamingEngine(options, db, Prices());
            var messages = TopicLog.Messages(_kafka.BootstrapServers, options.Topic);
            await RunUntilAsync(second, () => CommittedReadAsync(db).GetAwaiter().GetResult() >= messages);
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));
        }
    }
}
