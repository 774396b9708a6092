using Confluent.Kafka;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// A record the ledger itself refuses (here: a CHECK constraint on billing_period_totals, a real data error from the
/// real server) must not halt the flushes: it is isolated and dead-lettered, everything around it is booked exactly.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerDataFaultTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static byte[] Poison(int n) =>
        System.Text.Encoding.UTF8.GetBytes($$"""{"id":"poison-{{n}}","account":"poison","sku":"cdn.requests","quantity":"{{n}}","time":"2026-11-01T00:00:01Z"}""");

    [Fact]
    public async Task Records_the_ledger_refuses_are_dead_lettered_as_ledger_rejected_and_every_other_record_is_booked_exactly()
    {
        const int Partitions = 4;
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        await using (var check = db.CreateCommand("ALTER TABLE billing_period_totals ADD CONSTRAINT no_poison CHECK (account <> 'poison')"))
        {
            await check.ExecuteNonQueryAsync();
        }

        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = "ledger-poison", DeadLetterTopic = "",
            FlushInterval = TimeSpan.FromMilliseconds(200), MaxRecordsPerFlush = 4_000,
        };
        _kafka.CreateTopic(options.Topic, Partitions, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 12_000, Accounts = 300, DuplicateShare = 0.03, BadShare = 0.01 }).Generate(workload);
        var bytes = workload.ToArray();
        var middle = Array.IndexOf(bytes, (byte)'\n', bytes.Length / 2) + 1;

        // Good records, then one poison record in each of three partitions, then good records again: the poison
        // records sit in the middle of batches with other accounts' records before and after them.
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(bytes[..middle]), null, CancellationToken.None);
        using (var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            for (var p = 0; p < 3; p++)
            {
                await producer.ProduceAsync(new TopicPartition(options.Topic, p), new Message<string?, byte[]> { Key = "poison", Value = Poison(p + 1) });
            }
        }

        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(bytes[middle..]), null, CancellationToken.None);

        var engine = new StreamingEngine(options, db, null);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        var messages = TopicLog.Messages(_kafka.BootstrapServers, options.Topic);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < messages && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(100);
        }

        Assert.False(run.IsCompleted, $"the engine must keep running: {run.Exception?.GetBaseException().Message}");
        await stop.CancelAsync();
        await run;

        var expected = new GroundTruth { Read = truth.Read + 3, Accepted = truth.Accepted, Duplicates = truth.Duplicates, Totals = truth.Totals };
        foreach (var (reason, count) in truth.Rejected)
        {
            expected.Rejected[reason] = count;
        }

        expected.Rejected["ledger_rejected"] = 3;
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(expected, _kafka.BootstrapServers, options.Topic)), CancellationToken.None));

        await using var letters = db.CreateCommand("SELECT partition, detail, raw FROM dead_letters WHERE reason = 'ledger_rejected' ORDER BY partition");
        await using var reader = await letters.ExecuteReaderAsync();
        var found = new List<(int Partition, string Detail, byte[] Raw)>();
        while (await reader.ReadAsync())
        {
            found.Add((reader.GetInt32(0), reader.GetString(1), (byte[])reader[2]));
        }

        Assert.Equal([0, 1, 2], found.Select(f => f.Partition));
        for (var p = 0; p < 3; p++)
        {
            Assert.Equal(Poison(p + 1), found[p].Raw);
            Assert.Contains("23514", found[p].Detail, StringComparison.Ordinal);
            Assert.Contains("no_poison", found[p].Detail, StringComparison.Ordinal);
        }

        Assert.Equal(3, engine.RecordsIsolated);
        Assert.True(engine.FlushDataFaults >= 3, $"each poison record failed at least its own flush; saw {engine.FlushDataFaults} data faults");
        Assert.Equal(0, engine.FlushRetries); // a data fault is never retried as is
    }

    [Fact]
    public async Task A_record_whose_charge_would_carry_its_total_beyond_the_ledger_range_is_isolated_and_the_rest_is_rated()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        var book = PriceBookLoader.Load(System.Text.Encoding.UTF8.GetBytes("""
            { "id": "steep", "currency": "USD",
              "versions": [ { "version": "v1", "effective_from": "2026-01-01T00:00:00Z",
                "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.01" },
                            "gold.bars": { "model": "per_unit", "unit": "bar", "unit_price": "100000000000000000" } } } ] }
            """), "steep");
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "ledger-range", DeadLetterTopic = "", FlushInterval = TimeSpan.FromMilliseconds(200) };
        _kafka.CreateTopic(options.Topic, 1, 1);
        byte[] Record(string id, string sku, string quantity) =>
            System.Text.Encoding.UTF8.GetBytes($$"""{"id":"{{id}}","account":"acct-1","sku":"{{sku}}","quantity":"{{quantity}}","time":"2026-11-02T00:00:00Z"}""");
        var poison = Record("g-1", "gold.bars", "100"); // 100 x 10^17 = 10^19 USD: beyond 10^18
        using (var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < 101; i++)
            {
                var value = i == 50 ? poison : Record($"c-{i}", "api.calls", "3");
                await producer.ProduceAsync(options.Topic, new Message<string?, byte[]> { Key = "acct-1", Value = value });
            }
        }

        var engine = new StreamingEngine(options, db, new PriceCatalog(book, []));
        await EngineRuns.RunUntilCommittedAsync(engine, db, options, 101, timeoutSeconds: 60);

        var expected = new GroundTruth { Read = 101, Accepted = 100, Totals = [new GroundTruthTotal { Account = "acct-1", Sku = "api.calls", Count = 100, Quantity = "300" }] };
        expected.Rejected["ledger_rejected"] = 1;
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(expected), CancellationToken.None));
        await using (var amount = db.CreateCommand("SELECT amount FROM billing_period_totals WHERE account = 'acct-1' AND sku = 'api.calls'"))
        {
            Assert.Equal(3.00m, (decimal)(await amount.ExecuteScalarAsync())!);
        }

        await using var letter = db.CreateCommand("SELECT \"offset\", detail, raw FROM dead_letters WHERE reason = 'ledger_rejected'");
        await using var reader = await letter.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(50, reader.GetInt64(0));
        Assert.Contains("10^18", reader.GetString(1), StringComparison.Ordinal);
        Assert.Equal(poison, (byte[])reader[2]);
        Assert.False(await reader.ReadAsync());
    }
}
