using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>A flush refused by the offset fence is rolled back, and says so: a log line, a counter, an engine property.</summary>
[Collection(PostgresCollection.Name)]
public sealed class FencedFlushTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_flush_fenced_by_another_members_commit_is_logged_counted_and_rolled_back()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        _kafka.CreateTopic("fenced", 1);
        var log = new StringWriter();
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "fenced", FlushInterval = TimeSpan.FromMilliseconds(200), Log = TextWriter.Synchronized(log) };
        using var first = new MemoryStream();
        new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 1_000, Accounts = 50, DuplicateShare = 0, BadShare = 0 }).Generate(first);
        using var second = new MemoryStream();
        new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 1_000, Accounts = 50, Seed = 99, DuplicateShare = 0, BadShare = 0 }).Generate(second);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "fenced", new MemoryStream(first.ToArray()), null, CancellationToken.None);

        using var fencedCounter = new System.Diagnostics.Metrics.MeterListener();
        long fencedMetric = 0;
        fencedCounter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "metering.flush.fenced")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        fencedCounter.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref fencedMetric, value));
        fencedCounter.Start();

        var engine = new StreamingEngine(options, db, null);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < 1_000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // Another member (as a zombie's successor would) committed the partition 10 records further: the engine's
        // next batch starts at an offset PostgreSQL no longer holds.
        await using (var cmd = db.CreateCommand("UPDATE consumed_offsets SET next_offset = next_offset + 10 WHERE topic = 'fenced'"))
        {
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "fenced", new MemoryStream(second.ToArray()), null, CancellationToken.None);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < 1_990 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await run;
        fencedCounter.RecordObservableInstruments();

        Assert.Equal(1, engine.FencedBatches);
        Assert.True(Interlocked.Read(ref fencedMetric) >= 1, "metering.flush.fenced counted");
        Assert.Contains("FENCED flush: partition fenced[0] is no longer at offset 1000", log.ToString(), StringComparison.Ordinal);
        // Rolled back: the fenced batch counted nothing; after the rewind the ledger resumed behind the other
        // member's 10 records and is consistent (conservation = totals).
        Assert.Equal(1_990, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }
}
