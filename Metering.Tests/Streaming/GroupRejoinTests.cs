using System.Diagnostics;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace Metering.Tests.Streaming;

/// <summary>
/// Session timeouts forced with the mock cluster (a coordinator whose answers take longer than the session timeout):
/// the member loses its assignment and rejoins; it must consume again within seconds and end with exact totals.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupRejoinTests(PostgresFixture postgres, ITestOutputHelper output) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Three_forced_session_timeouts_under_load_each_end_with_consumption_resumed_and_exact_totals()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        _kafka.CreateTopic("rejoin", 4);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 60_000, Accounts = 300, DuplicateShare = 0.02, BadShare = 0.01 }).Generate(workload);
        var log = new StringWriter();
        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = "rejoin", FlushInterval = TimeSpan.FromMilliseconds(200),
            SessionTimeout = TimeSpan.FromSeconds(6), StallTimeout = TimeSpan.FromSeconds(5), Log = TextWriter.Synchronized(log),
        };
        var producing = WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "rejoin", new MemoryStream(workload.ToArray()), null, CancellationToken.None, recordsPerSecond: 1_000);
        var engine = new StreamingEngine(options, db, null);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        for (var round = 1; round <= 3; round++)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var before = engine.Read;
            while (engine.Read <= before + 500 && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(20);
            }

            Assert.False(run.IsCompleted, "the engine stopped: " + log);
            Assert.True(engine.Read > before + 500, $"round {round}: the engine consumed nothing before the fault");

            // For 15 s the coordinator answers after 8 s, longer than the 6 s session: the member times out
            // (SESSTMOUT, "revoking assignment and rejoining group") and nothing is consumed meanwhile.
            var stallsBefore = engine.Stalls;
            _kafka.SetBrokerRtt(1, TimeSpan.FromSeconds(8));
            await Task.Delay(TimeSpan.FromSeconds(15));
            _kafka.SetBrokerRtt(1, TimeSpan.Zero);
            var clock = Stopwatch.StartNew();
            var atRecovery = engine.Read;
            deadline = DateTime.UtcNow.AddSeconds(90);
            while (engine.Read == atRecovery && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(20);
            }

            var resumed = clock.Elapsed;
            var unhealthyDuringFault = engine.Stalls > stallsBefore;
            while (!engine.Healthy && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            output.WriteLine($"round {round}: consuming again {resumed.TotalSeconds:F1} s after the coordinator recovered; the watchdog reported the stall: {unhealthyDuringFault}");
            Assert.True(engine.Read > atRecovery, $"round {round}: nothing consumed within 90 s after the coordinator recovered; log:\n{log}");
            Assert.True(unhealthyDuringFault, $"round {round}: 15 s without consuming while holding partitions with lag, and the watchdog did not report it");
            Assert.True(engine.Healthy, $"round {round}: consuming again but still unhealthy: {engine.HealthDetail}");
        }

        await producing;
        var expected = TopicLog.Expected(truth, _kafka.BootstrapServers, "rejoin");
        var end = DateTime.UtcNow.AddSeconds(120);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected.Read && DateTime.UtcNow < end && !run.IsCompleted)
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await run;
        output.WriteLine(log.ToString());
        Assert.Contains("WATCHDOG: stalled", log.ToString(), StringComparison.Ordinal);
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(expected), CancellationToken.None));
    }
}
