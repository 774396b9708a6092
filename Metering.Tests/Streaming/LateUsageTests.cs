using System.Text;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>The late-usage policy: a closed period's totals never change; late usage becomes adjustment lines.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LateUsageTests(PostgresFixture postgres) : IDisposable
{
    private const string Egress = "egress.gb";
    private static readonly DateTimeOffset October = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private int _nextId;

    public void Dispose() => _kafka.Dispose();

    /// <summary>Egress in GB: graduated, 0.09 up to 10,000 GB then 0.06, in October; 100 GB included then 0.08 in November.</summary>
    private static PriceCatalog Prices() => new(PriceBookLoader.Load("""
        {
          "id": "late-test", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [
            { "version": "oct", "effective_from": "2026-10-01T00:00:00Z", "effective_to": "2026-11-01T00:00:00Z",
              "prices": { "egress.gb": { "model": "graduated", "unit": "GB",
                "tiers": [ { "up_to": "10000", "unit_price": "0.09" }, { "up_to": null, "unit_price": "0.06" } ] } } },
            { "version": "nov", "effective_from": "2026-11-01T00:00:00Z",
              "prices": { "egress.gb": { "model": "graduated", "unit": "GB", "included_units": "100",
                "tiers": [ { "up_to": null, "unit_price": "0.08" } ] } } }
          ]
        }
        """u8, "late-test"), []);

    /// <summary>Egress records of <paramref name="gigabytes"/> GB each.</summary>
    private byte[] Records(string account, string time, params long[] gigabytes)
    {
        var text = new StringBuilder();
        foreach (var gb in gigabytes)
        {
            text.Append("{\"id\":\"late-").Append(++_nextId).Append("\",\"account\":\"").Append(account).Append("\",\"sku\":\"").Append(Egress)
                .Append("\",\"quantity\":\"").Append(gb).Append("\",\"time\":\"").Append(time).Append("\"}\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private async Task ProduceAndDrainAsync(NpgsqlDataSource db, StreamingOptions options, byte[] records, long expectedRead)
    {
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(records), null, CancellationToken.None);
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, Prices()), db, options, expectedRead, timeoutSeconds: 60);
        Assert.Equal(expectedRead, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }

    private static async Task<(decimal Quantity, decimal Amount, bool Closed)> TotalAsync(NpgsqlDataSource db, string account, DateTimeOffset period)
    {
        await using var cmd = db.CreateCommand("SELECT quantity, amount, closed FROM billing_period_totals WHERE account = $1 AND sku = $2 AND period_start = $3");
        cmd.Parameters.Add(new() { Value = account });
        cmd.Parameters.Add(new() { Value = Egress });
        cmd.Parameters.Add(new() { Value = period.UtcDateTime });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync(), $"no total for {account} in {period:yyyy-MM}");
        return (r.GetDecimal(0), r.GetDecimal(1), r.GetBoolean(2));
    }

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options, string ConnectionString)> SetUpAsync(string topic)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        _kafka.CreateTopic(topic, 2, 1);
        return (NpgsqlDataSource.Create(cs), new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200) }, cs);
    }

    [Fact]
    public async Task Late_usage_for_a_closed_period_is_booked_as_adjustments_in_the_open_period_priced_on_top_of_the_closed_total()
    {
        var (db, options, cs) = await SetUpAsync("late-usage");
        await using (db)
        {
            // October: 9,000 GB at the first tier (0.09/GB up to 10,000 GB) = 810.00.
            await ProduceAndDrainAsync(db, options, Records("acct-late", "2026-10-31T20:00:00Z", 4_000, 5_000), 2);
            Assert.Equal((9_000m, 810m, false), await TotalAsync(db, "acct-late", October));

            var close = await PeriodCloser.CloseAsync(db, October, CancellationToken.None, now: new DateTimeOffset(2026, 11, 1, 0, 30, 0, TimeSpan.Zero));
            Assert.False(close.AlreadyClosed);
            Assert.Equal(810m, close.AmountByCurrency["USD"]);

            // 2,000 GB late for October (crosses the 10,000 GB tier boundary: 1,000 x 0.09 + 1,000 x 0.06 = 150.00) and
            // 500 GB of November usage (November's book: 100 GB included, then 0.08/GB = 32.00).
            var november = Records("acct-late", "2026-11-01T01:00:00Z", 500);
            await ProduceAndDrainAsync(db, options, [.. november, .. Records("acct-late", "2026-10-31T23:00:00Z", 2_000)], 4);
            // A second late batch continues at the second tier: 1,000 x 0.06 = 60.00.
            await ProduceAndDrainAsync(db, options, Records("acct-late", "2026-10-31T23:30:00Z", 1_000), 5);

            Assert.Equal((9_000m, 810m, true), await TotalAsync(db, "acct-late", October)); // frozen
            Assert.Equal((500m, 32m, false), await TotalAsync(db, "acct-late", November));
            await using var cmd = db.CreateCommand("SELECT period_start, original_period_start, quantity, record_count, amount, currency, reference FROM adjustments ORDER BY id");
            await using var r = await cmd.ExecuteReaderAsync();
            var lines = new List<(DateTime Booked, DateTime Original, decimal Quantity, long Count, decimal Amount, string Currency, string Reference)>();
            while (await r.ReadAsync())
            {
                lines.Add((r.GetDateTime(0), r.GetDateTime(1), r.GetDecimal(2), r.GetInt64(3), r.GetDecimal(4), r.GetString(5), r.GetString(6)));
            }

            Assert.Equal(2, lines.Count);
            Assert.All(lines, l => Assert.Equal((November.UtcDateTime, October.UtcDateTime, "USD"), (l.Booked, l.Original, l.Currency)));
            Assert.Equal((2_000m, 1L, 150m), (lines[0].Quantity, lines[0].Count, lines[0].Amount));
            Assert.Equal((1_000m, 1L, 60m), (lines[1].Quantity, lines[1].Count, lines[1].Amount));
            Assert.Contains("2026-10-01", lines[0].Reference, StringComparison.Ordinal);

            // Conservation (records, quantities and money) still holds with the adjustments counted.
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));

            // ClickHouse keeps late windows in the period they belong to; reconcile matches them with the adjustments.
            _ = Analytics.ChDbShared.Session;
            string[] clickhouse = ["--pg", cs, "--clickhouse-dir", Analytics.ChDbShared.Directory, "--clickhouse-database", Analytics.ChDbShared.NewDatabaseName()];
            Assert.Equal(0, await Metering.Cli.Program.RunAsync(["export", .. clickhouse], TextWriter.Null, TextWriter.Null, CancellationToken.None));
            Assert.Equal(0, await Metering.Cli.Program.RunAsync(["reconcile", "--period", "2026-10", "--no-export", .. clickhouse], TextWriter.Null, TextWriter.Null, CancellationToken.None));
            Assert.Equal(0, await Metering.Cli.Program.RunAsync(["reconcile", "--period", "2026-11", "--no-export", .. clickhouse], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Closing_a_period_refuses_one_that_has_not_ended_or_does_not_start_on_a_boundary_and_is_idempotent()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var midNovember = new DateTimeOffset(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
        var notEnded = await Assert.ThrowsAsync<PeriodCloseException>(() => PeriodCloser.CloseAsync(db, November, CancellationToken.None, now: midNovember));
        Assert.Contains("has not ended", notEnded.Message, StringComparison.Ordinal);
        var notBoundary = await Assert.ThrowsAsync<PeriodCloseException>(() => PeriodCloser.CloseAsync(db, October.AddDays(3), CancellationToken.None, now: midNovember));
        Assert.Contains("not the start of a billing period", notBoundary.Message, StringComparison.Ordinal);

        Assert.False((await PeriodCloser.CloseAsync(db, October, CancellationToken.None, now: midNovember)).AlreadyClosed);
        Assert.True((await PeriodCloser.CloseAsync(db, October, CancellationToken.None, now: midNovember)).AlreadyClosed);
        Assert.False((await PeriodCloser.CloseAsync(db, November, CancellationToken.None, now: midNovember, force: true)).AlreadyClosed);
    }

    [Fact]
    public async Task A_close_waits_for_a_flush_transaction_in_flight()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await using var flush = await db.OpenConnectionAsync();
        await using var tx = await flush.BeginTransactionAsync();
        await using (var shared = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", flush, tx))
        {
            shared.Parameters.Add(new() { Value = PeriodCloser.CloseLockKey }); // what every flush transaction takes first
            await shared.ExecuteNonQueryAsync();
        }

        var closing = PeriodCloser.CloseAsync(db, October, CancellationToken.None, now: November.AddDays(1));
        await Task.Delay(500);
        Assert.False(closing.IsCompleted, "the close must wait for the flush transaction");
        await tx.CommitAsync();
        Assert.False((await closing.WaitAsync(TimeSpan.FromSeconds(10))).AlreadyClosed);
    }

}
