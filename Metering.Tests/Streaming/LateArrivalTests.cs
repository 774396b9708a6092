using Metering.Aggregates.Decoding;
using Metering.DevKit.Benchmarks;
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
/// Late arrivals through the real streaming path (Kafka mock cluster, real PostgreSQL): records up to the lateness
/// window (default 35 days) behind the newest record are counted exactly once, across a crash replay and a
/// restart, with ids older than the 24 h in-memory horizon found in seen_id_blocks; older records are dead letters.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LateArrivalTests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static string Record(string id, string quantity, DateTimeOffset time) =>
        StreamingAdmissionTests.Record(id, "acct-1", "api.requests", quantity, time);

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

    private void Produce(StreamingOptions options, params string[] values) => StreamingConflictTests.Produce(_kafka.BootstrapServers, options.Topic, values);

    private static async Task WaitCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_record_30_days_late_is_counted_once_also_after_a_crash_replay_and_a_restart()
    {
        var (db, options) = await SetUpAsync("late-30d");
        await using (db)
        {
            Produce(options, Record("now-1", "1", Now.AddMinutes(-5)), Record("late-1", "2", Now.AddDays(-30)), Record("late-1", "2", Now.AddDays(-30)));

            // Killed after reading all three, before any flush: nothing of them is committed, all are replayed.
            var crashing = new StreamingEngine(options with { FlushInterval = TimeSpan.FromHours(1), CrashAfterRecords = 3 }, db, null);
            await EngineRuns.RunUntilCommittedAsync(crashing, db, options, 3);
            Assert.Equal(0, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));

            var replaying = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(replaying, db, options, 3);
            Assert.Equal(3m, await StreamingConflictTests.QuantityAsync(db)); // 1 + 2, the copy of late-1 not counted
            Assert.Empty(await StreamingConflictTests.DeadLettersAsync(db));
            Assert.Equal((1L, 0L), await StreamingConflictTests.BalanceAsync(db, options));

            // A restart: the 30-day-old id is far behind the rebuilt 24 h horizon; PostgreSQL's blocks know it.
            Produce(options, Record("late-1", "2", Now.AddDays(-30)));
            var restarted = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(restarted, db, options, 4);
            Assert.Equal(3m, await StreamingConflictTests.QuantityAsync(db));
            Assert.Equal((2L, 0L), await StreamingConflictTests.BalanceAsync(db, options));
            Assert.Equal(1, restarted.LateArchiveHits);
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_record_36_days_late_is_rejected_expired_time_with_a_detail_naming_the_lateness_window()
    {
        var (db, options) = await SetUpAsync("late-36d");
        await using (db)
        {
            Produce(options, Record("now-1", "1", Now.AddMinutes(-5)), Record("old-1", "2", Now.AddDays(-36)));
            await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, 2);

            Assert.Equal(1m, await StreamingConflictTests.QuantityAsync(db));
            var letter = Assert.Single(await StreamingConflictTests.DeadLettersAsync(db));
            Assert.Equal("expired_time", letter.Reason);
            Assert.Contains("more than 35d behind the newest record", letter.Detail, StringComparison.Ordinal);
            Assert.Contains("lateness window", letter.Detail, StringComparison.Ordinal);
            Assert.Contains("old-1", letter.Raw, StringComparison.Ordinal);
            Assert.Equal((0L, 1L), await StreamingConflictTests.BalanceAsync(db, options));
        }
    }

    [Fact]
    public async Task A_duplicate_of_a_20_day_old_id_is_found_after_the_horizon_moved_on_and_after_a_restart()
    {
        var (db, options) = await SetUpAsync("late-20d");
        await using (db)
        {
            // The id is current when first counted (the newest record), so the in-memory horizon holds it.
            var first = Record("d-1", "4", Now.AddDays(-20));
            Produce(options, first);
            var engine = new StreamingEngine(options, db, null);
            // (Whether the copy is found among the ids of the last committed flush or in seen_id_blocks depends on when
            // the engine harvests the commit; either way it is a duplicate. The restart below must use the blocks.)
            using (var stop = new CancellationTokenSource())
            {
                var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
                await WaitCommittedAsync(db, options, 1);

                // Twenty days of event time later the horizon has dropped it: the copy is judged by seen_id_blocks.
                Produce(options, Record("now-1", "1", Now.AddMinutes(-5)));
                await WaitCommittedAsync(db, options, 2);
                Produce(options, first);
                await WaitCommittedAsync(db, options, 3);
                await stop.CancelAsync();
                await run;
            }

            Assert.Equal(5m, await StreamingConflictTests.QuantityAsync(db));
            Assert.Equal((1L, 0L), await StreamingConflictTests.BalanceAsync(db, options));

            Produce(options, first);
            var restarted = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(restarted, db, options, 4);
            Assert.Equal(5m, await StreamingConflictTests.QuantityAsync(db));
            Assert.Equal((2L, 0L), await StreamingConflictTests.BalanceAsync(db, options));
            Assert.Equal(1, restarted.LateArchiveHits);
            Assert.Empty(await StreamingConflictTests.DeadLettersAsync(db));
        }
    }

    [Fact]
    public async Task A_late_copy_in_the_chunk_that_moved_the_horizon_past_its_first_copy_is_a_duplicate()
    {
        var (db, options) = await SetUpAsync("late-same-chunk");
        await using (db)
        {
            // One chunk: d-1 is counted by the horizon, now-1 moves the watermark 20 days on (the horizon drops d-1
            // before anything is committed), then the copy of d-1 arrives: neither memory nor PostgreSQL alone has it.
            var first = Record("d-1", "4", Now.AddDays(-20));
            Produce(options, first, Record("now-1", "1", Now.AddMinutes(-5)), first);
            await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options with { FlushInterval = TimeSpan.FromSeconds(5) }, db, null), db, options, 3);

            Assert.Equal(5m, await StreamingConflictTests.QuantityAsync(db));
            Assert.Equal((1L, 0L), await StreamingConflictTests.BalanceAsync(db, options));
        }
    }
}
