using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>A running engine rates from the registry: versions published through the API or the CLI apply from the next flush.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RegistryRatingTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private int _nextId;

    public void Dispose() => _kafka.Dispose();

    private byte[] Record(string account, string sku, string time, long quantity) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"reg-{++_nextId}\",\"account\":\"{account}\",\"sku\":\"{sku}\",\"quantity\":\"{quantity}\",\"time\":\"{time}\"}}\n");

    private static async Task WaitCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected, Task engine)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline && !engine.IsCompleted)
        {
            await Task.Delay(50);
        }

        Assert.Equal(expected, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }

    private static async Task<(decimal Amount, string Version, string Hash)> TotalAsync(NpgsqlDataSource db, string account, string period)
    {
        await using var cmd = db.CreateCommand("SELECT amount, price_book_version, price_book_hash FROM billing_period_totals WHERE account = $1 AND period_start = $2::timestamptz");
        cmd.Parameters.Add(new() { Value = account });
        cmd.Parameters.Add(new() { Value = period });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync(), $"no total for {account} from {period}");
        return (r.GetDecimal(0), r.GetString(1), r.GetString(2));
    }

    [Fact]
    public async Task A_version_published_through_the_api_and_then_the_cli_prices_the_very_next_flush_of_a_running_engine()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("registry-rating", 2, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "registry-rating", FlushInterval = TimeSpan.FromMilliseconds(200) };

        // September at 0.10/GB, published from a file as `stream --pricebook FILE` does.
        var sepBook = PriceBookRegistryTests.Json(("sep", "2026-09-01T00:00:00Z", null, "0.10"));
        var sepBytes = Encoding.UTF8.GetBytes(sepBook);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(sepBytes, "sep.json"), sepBytes, "sep.json", CancellationToken.None);

        // Polling an hour apart: what reaches the engine is the publish itself (NOTIFY, and the revision check of a flush).
        await using var prices = await PriceCatalogSource.OpenAsync(db, PriceBookRegistryTests.Book, TimeSpan.FromHours(1), null, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var engine = StreamingEngine.Rating(options, db, prices);
        var running = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(Record("acct-r", "egress.gb", "2026-09-20T10:00:00Z", 100)), null, CancellationToken.None);
        await WaitCommittedAsync(db, options, 1, running);
        var september = await TotalAsync(db, "acct-r", "2026-09-01T00:00:00Z");
        Assert.Equal((10.00m, "sep"), (september.Amount, september.Version));

        // October at 1.00/GB (the issue's 10x), published through the API while the engine runs.
        await using (var api = await ApiTestHost.StartOnAsync(cs))
        {
            var root = JsonNode.Parse(PriceBookRegistryTests.Json(("oct", "2026-10-01T00:00:00Z", null, "1.00")))!;
            using var put = await api.Client(ApiTestHost.Token("pricebooks:write")).PutAsync("/v1/pricebooks/reg-list/versions/oct",
                new StringContent(root.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(Record("acct-r", "egress.gb", "2026-10-02T10:00:00Z", 100)), null, CancellationToken.None);
        await WaitCommittedAsync(db, options, 2, running);
        var october = await TotalAsync(db, "acct-r", "2026-10-01T00:00:00Z");
        Assert.Equal((100.00m, "oct"), (october.Amount, october.Version));

        // November at 2.00/GB through `metering pricebook publish`: the whole file, whose September and October end
        // where the registry ended them (their hashes do not cover the end, so they are the same versions).
        var file = Path.Combine(Directory.CreateTempSubdirectory("metering-registry-").FullName, "list.json");
        await File.WriteAllTextAsync(file, PriceBookRegistryTests.Json(
            ("sep", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "0.10"), ("oct", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "1.00"), ("nov", "2026-11-01T00:00:00Z", null, "2.00")));
        var output = new StringWriter();
        Assert.Equal(0, await Metering.Cli.Program.RunAsync(["pricebook", "publish", file, "--pg", cs], output, TextWriter.Null, CancellationToken.None));

        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(Record("acct-r", "egress.gb", "2026-11-02T10:00:00Z", 100)), null, CancellationToken.None);
        await WaitCommittedAsync(db, options, 3, running);
        var november = await TotalAsync(db, "acct-r", "2026-11-01T00:00:00Z");
        Assert.Equal((200.00m, "nov"), (november.Amount, november.Version));

        await stop.CancelAsync();
        await running;

        // The September line's lineage still resolves to the version that rated it, now ended by its successor.
        Assert.Equal(september, await TotalAsync(db, "acct-r", "2026-09-01T00:00:00Z"));
        var sep = await new PriceBookStore(db).GetByHashAsync(september.Hash, CancellationToken.None);
        Assert.Equal(("sep", new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero)), (sep!.Version, sep.EffectiveTo));
    }

    [Fact]
    public async Task Every_hash_the_engine_rated_a_file_book_with_resolves_through_the_api()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("registry-hash", 2, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "registry-hash" };
        var list = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json");
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(
            [.. Record("acct-h", "cdn.requests", "2026-10-20T10:00:00Z", 1000), .. Record("acct-h", "cdn.requests", "2026-11-20T10:00:00Z", 1000)]), null, CancellationToken.None);

        // `metering stream --pricebook FILE`, in this process, until both records are committed.
        using var stop = new CancellationTokenSource();
        var stream = Metering.Cli.Program.RunAsync(["stream", "--bootstrap-servers", _kafka.BootstrapServers, "--topic", options.Topic, "--pg", cs, "--pricebook", list,
            "--flush-interval", "200ms", "--instance-id", ""], TextWriter.Null, TextWriter.Null, stop.Token);
        await WaitCommittedAsync(db, options, 2, stream);
        await stop.CancelAsync();
        Assert.Equal(0, await stream);

        var hashes = new List<(string Version, string Hash)>();
        await using (var cmd = db.CreateCommand("SELECT price_book_version, price_book_hash FROM billing_period_totals ORDER BY period_start"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                hashes.Add((r.GetString(0), r.GetString(1)));
            }
        }

        Assert.Equal(["2026-10", "2026-11"], hashes.Select(h => h.Version));
        await using var api = await ApiTestHost.StartOnAsync(cs);
        var reader = api.Client(ApiTestHost.Token("billing:read"));
        foreach (var (version, hash) in hashes)
        {
            using var response = await reader.GetAsync($"/v1/pricebooks/by-hash/{hash}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await ApiTestHost.Json(response);
            Assert.Equal(("edge-list", version, hash), (body.GetProperty("id").GetString(), body.GetProperty("version").GetString(), body.GetProperty("hash").GetString()));
            Assert.Equal(version, body.GetProperty("document").GetProperty("versions")[0].GetProperty("version").GetString());
        }

        using var unknown = await reader.GetAsync("/v1/pricebooks/by-hash/sha256:" + new string('0', 64));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var malformed = await reader.GetAsync("/v1/pricebooks/by-hash/md5:abc");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }
}
