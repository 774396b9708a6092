using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// The engine rates on the totals it last committed instead of reading them back (Metering.Ledger/Flush/TotalsCache),
/// but never overwrites what another writer committed meanwhile: the write is conditional on the row holding the
/// cached state, and a flush that finds it moved is rated again from PostgreSQL.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class TotalsCacheTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static byte[] Record(string id, long quantity) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"{id}\",\"account\":\"acct-x\",\"sku\":\"api.requests\",\"quantity\":\"{quantity}\",\"time\":\"2026-11-20T10:00:00Z\"}}\n");

    [Fact]
    public async Task A_total_another_writer_moved_after_the_engine_cached_it_is_read_again_and_nothing_is_overwritten()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("totals-cache", 1, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "totals-cache", FlushInterval = TimeSpan.FromMilliseconds(200) };
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => new StreamingEngine(options, db, null).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        await ProduceAndWaitAsync(db, options, Record("r-1", 10), 1, running);
        // Another writer (here: an operator's edit; in production a second engine after a rebalance) moves the total
        // the engine has just committed and cached.
        await using (var edit = db.CreateCommand("UPDATE billing_period_totals SET quantity = quantity + 5, record_count = record_count + 1 WHERE account = 'acct-x'"))
        {
            Assert.Equal(1, await edit.ExecuteNonQueryAsync());
        }

        await ProduceAndWaitAsync(db, options, Record("r-2", 7), 2, running);
        await ProduceAndWaitAsync(db, options, Record("r-3", 1), 3, running); // and the cache goes on from the re-read state
        await stop.CancelAsync();
        await running;

        await using var cmd = db.CreateCommand("SELECT quantity, record_count FROM billing_period_totals WHERE account = 'acct-x'");
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((23m, 4L), (r.GetDecimal(0), r.GetInt64(1))); // 10 + 5 + 7 + 1: the edit survived
    }

    private async Task ProduceAndWaitAsync(NpgsqlDataSource db, StreamingOptions options, byte[] record, long expected, Task engine)
    {
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(record), null, CancellationToken.None);
        await EngineRuns.WaitForCommittedAsync(db, options, expected, engine);
    }
}
