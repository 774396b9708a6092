using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>The engine's start: its first flush does not wait for the flush interval, and its stage times are reported.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EngineStartTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private async Task<(NpgsqlDataSource Db, GroundTruth Truth, StreamingOptions Options)> SetUpAsync(string topic, int records)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, 4);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records, Accounts = 50, DuplicateShare = 0.02, BadShare = 0.01 }).Generate(workload);
        workload.Position = 0;
        Assert.Equal(records, await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, workload, null, CancellationToken.None));
        // An interval no test waits out: whatever commits while the engine runs was not due to it.
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromHours(1), Log = TextWriter.Null };
        return (NpgsqlDataSource.Create(connectionString), truth, options);
    }

    [Fact]
    public async Task The_first_flush_after_start_commits_without_waiting_for_the_flush_interval()
    {
        var (db, truth, options) = await SetUpAsync("start-first-flush", 2_000);
        await using (db)
        {
            var engine = new StreamingEngine(options, db, null);
            using var stop = new CancellationTokenSource();
            var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
            long committedWhileRunning = 0;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (committedWhileRunning == 0 && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(50);
                committedWhileRunning = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
            }

            while (engine.Read < truth.Read && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(50); // the rest is consumed, and committed by the flush at the stop
            }

            await stop.CancelAsync();
            await run;

            Assert.True(committedWhileRunning > 0, "nothing was committed while the engine ran: the first flush waited for the 1 h interval");
            // The eager first flush is an ordinary one: the rest follows at the stop, and the ledger is exact.
            Assert.Equal(truth.Read, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(truth), CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_run_reports_its_start_up_steps_in_order_and_the_time_of_every_stage()
    {
        var (db, truth, options) = await SetUpAsync("start-stages", 3_000);
        await using (db)
        {
            var engine = new StreamingEngine(options with { FlushInterval = TimeSpan.FromMilliseconds(200) }, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, truth.Read);
            var stages = engine.Stages;

            Assert.Equal(truth.Read, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
            Assert.NotNull(stages.Subscribed);
            Assert.NotNull(stages.FirstAssigned);
            Assert.NotNull(stages.FirstConsumed);
            Assert.NotNull(stages.FirstFlushStarted);
            Assert.NotNull(stages.FirstCommitted);
            Assert.True(stages.Started <= stages.Subscribed!.Value);
            Assert.True(stages.Subscribed.Value <= stages.FirstAssigned!.Value);
            Assert.True(stages.FirstAssigned.Value <= stages.FirstConsumed!.Value);
            Assert.True(stages.FirstConsumed.Value <= stages.FirstFlushStarted!.Value);
            Assert.True(stages.FirstFlushStarted.Value <= stages.FirstCommitted!.Value);
            Assert.True(stages.Build > TimeSpan.Zero);
            Assert.True(stages.ConsumeWait > TimeSpan.Zero);
            Assert.True(stages.Commit > TimeSpan.Zero);
            Assert.True(stages.Drain > TimeSpan.Zero);
            if (OperatingSystem.IsLinux())
            {
                Assert.NotNull(stages.PollThreadCpu);
            }

            var line = stages.Describe(TimeSpan.FromSeconds(10));
            foreach (var stage in new[] { "consume-wait", "dequeue", "build", "drain", "commit-wait", "commit (background)", "empty polls" })
            {
                Assert.Contains(stage, line, StringComparison.Ordinal);
            }
        }
    }
}
