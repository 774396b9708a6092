using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Metering.Tests.Admission;

/// <summary>
/// The promise behind a receipt, checked end to end over the real parts: random hostile records are posted to the
/// HTTP edge (Kestrel on loopback, into a Kafka mock-cluster topic), the ones it refused are produced raw to the
/// same topic, and the streaming engine consumes everything into a real PostgreSQL. The edge's verdict must equal
/// the engine's for every record (accepted at the edge = never dead-lettered; refused = dead-lettered for the same
/// reason), and every accepted record must be readable back through the API under its account.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class EdgeEngineAgreementTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // Pieces, not chars, so surrogate pairs stay whole: the ordinary, the characters JSON escapes, and every kind of
    // character the identifier rules refuse.
    private static readonly string[] Pieces =
    [
        "a", "b", "Z", "0", "-", "_", ".", ":", "@", "%", "?", "#", " ", "é", "漢", "😀",
        "/", "\\", "\t", "\n", "\u0000", "\u0001", "\u001f", "\u007f", "\u0085", "\u00a0", "\u3000", "\uffff", "\"",
    ];

    private sealed record Case(string Account, string Sku, byte[] Raw);

    private static string Identifier(Random random)
    {
        switch (random.Next(100))
        {
            case 0: return ".";
            case 1: return "..";
            case 2: return "";
            case 3: return new string('x', 129);
        }

        var pieces = random.Next(4) == 0 ? 1 + random.Next(5) : 1 + random.Next(2);
        var sb = new StringBuilder("t");
        for (var i = 0; i < pieces; i++)
        {
            // Mostly ordinary, sometimes hostile: most records should be accepted so the read-back is exercised.
            sb.Append(random.Next(12) == 0 ? Pieces[random.Next(Pieces.Length)] : Pieces[random.Next(16)]);
        }

        return random.Next(30) == 0 ? Pieces[random.Next(Pieces.Length)] + sb : sb.ToString();
    }

    private static string Time(Random random, DateTime now)
    {
        var t = random.Next(30) switch
        {
            0 => now.AddMinutes(11).ToString("O", CultureInfo.InvariantCulture), // future_time
            1 => now.AddDays(random.Next(2) == 0 ? -30 : -36).ToString("O", CultureInfo.InvariantCulture), // late: accepted at both (30 days), expired at both (36 days; the engine's watermark is ~now)
            2 => "1999-12-31T23:59:59Z",
            3 => "yesterday",
            4 => now.AddMinutes(5).ToString("O", CultureInfo.InvariantCulture),
            _ => now.AddSeconds(-random.Next(1, 600)).ToString("O", CultureInfo.InvariantCulture),
        };
        return JsonSerializer.Serialize(t);
    }

    private static string Quantity(Random random) => random.Next(40) switch
    {
        0 => "\"-1\"",
        1 => "\"0.0000000001\"",
        2 => "9223372037",
        3 => "\"abc\"",
        4 => "1e3",
        5 => "true",
        _ => "\"" + random.Next(1, 1000).ToString(CultureInfo.InvariantCulture) + "." + random.Next(0, 100).ToString("D2", CultureInfo.InvariantCulture) + "\"",
    };

    private static string Dimensions(Random random) => random.Next(40) switch
    {
        0 => ",\"dimensions\":{\"region\":\"eu\",\"region\":\"us\"}",
        1 => ",\"dimensions\":{\"region\":\"e\\u0000u\"}",
        2 => ",\"dimensions\":{\"a=b\":\"c\"}",
        3 => ",\"dimensions\":" + JsonSerializer.Serialize(Enumerable.Range(0, 17).ToDictionary(i => "k" + i, i => "v")),
        4 => ",\"dimensions\":[1]",
        5 => ",\"dimensions\":{\"colo\":" + JsonSerializer.Serialize(Identifier(random)) + "}",
        _ => ",\"dimensions\":{\"region\":\"eu\"}",
    };

    private static Case Generate(Random random, int index, DateTime now)
    {
        var account = index == 0 ? "anchor" : Identifier(random);
        var sku = index == 0 ? "api.requests" : random.Next(3) == 0 ? Identifier(random) : "api.requests";
        var id = (index == 0 ? "" : random.Next(20) == 0 ? Identifier(random) : "") + "id-" + index.ToString(CultureInfo.InvariantCulture);
        var time = index == 0 ? JsonSerializer.Serialize(now.AddSeconds(-1).ToString("O", CultureInfo.InvariantCulture)) : Time(random, now);
        var quantity = index == 0 ? "\"1\"" : Quantity(random);
        var json = "{\"id\":" + JsonSerializer.Serialize(id) + ",\"account\":" + JsonSerializer.Serialize(account) + ",\"sku\":" + JsonSerializer.Serialize(sku) +
            ",\"quantity\":" + quantity + ",\"time\":" + time + (index == 0 ? "" : Dimensions(random)) + "}";
        var raw = Encoding.UTF8.GetBytes(index == 0 ? json : random.Next(25) switch
        {
            0 => json[..(json.Length / 2)], // truncated
            1 => json.Replace("\"quantity\"", "\"sku\":\"x\",\"quantity\"", StringComparison.Ordinal), // a field twice
            _ => json,
        });
        if (index != 0 && random.Next(30) == 0)
        {
            raw = [.. raw.Take(5), 0xC3, 0x28, .. raw.Skip(5)]; // invalid UTF-8
        }

        return new Case(account, sku, raw);
    }

    [Fact]
    public async Task For_random_hostile_records_the_edge_verdict_equals_the_engine_verdict_and_every_accepted_record_reads_back()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var topic = "agreement";
        _kafka.CreateTopic(topic, 1, 1); // one partition: the engine sees the records in the order they were produced
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        using var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, MaxSkusPerAccount = 0, MaxSkusPerCredential = 0 });
        var apiOptions = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, HttpIngest = service };
        await using var app = ApiHost.Build(apiOptions, db, new InMemoryUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("admin"));

        var now = DateTime.UtcNow;
        var cases = Enumerable.Range(0, 600).Select(i => Generate(random, i, now)).ToList();
        var edge = new List<(bool Accepted, string? Reason)>();
        foreach (var c in cases)
        {
            using var content = new ByteArrayContent(c.Raw);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            using var response = await http.PostAsync("/v1/events", content);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var receipt = body.RootElement.GetProperty("receipts")[0];
            var status = receipt.GetProperty("status").GetString();
            edge.Add((status == "accepted", receipt.TryGetProperty("reason", out var r) ? r.GetString() : null));
            Assert.True(status is "accepted" or "rejected", $"seed {seed}: unexpected status {status}");
        }

        Assert.True(edge.Count(e => e.Accepted) > 150 && edge.Count(e => !e.Accepted) > 150, $"seed {seed}: a useful mix ({edge.Count(e => e.Accepted)} accepted)");
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, Acks = Acks.All }).Build())
        {
            for (var i = 0; i < cases.Count; i++)
            {
                if (!edge[i].Accepted)
                {
                    producer.Produce(topic, new Message<string, byte[]> { Key = "raw", Value = cases[i].Raw });
                }
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "" };
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, cases.Count);
        Assert.Equal(cases.Count, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));

        var engineReasons = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var cmd = db.CreateCommand("SELECT raw, reason FROM dead_letters"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                engineReasons[Convert.ToHexString((byte[])reader[0])] = reader.GetString(1);
            }
        }

        for (var i = 0; i < cases.Count; i++)
        {
            var engineReason = engineReasons.GetValueOrDefault(Convert.ToHexString(cases[i].Raw));
            var text = Encoding.UTF8.GetString(cases[i].Raw);
            if (edge[i].Accepted)
            {
                Assert.True(engineReason is null, $"seed {seed}: the edge accepted record {i} but the engine dead-lettered it {engineReason}: {text}");
            }
            else
            {
                Assert.True(edge[i].Reason == engineReason, $"seed {seed}: record {i}: edge {edge[i].Reason}, engine {engineReason ?? "accepted"}: {text}");
            }
        }

        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));

        // Every accepted record is billed under its own account and can be read back through the API.
        var expected = new Dictionary<(string Account, string Period, string Sku), decimal>();
        for (var i = 0; i < cases.Count; i++)
        {
            if (edge[i].Accepted)
            {
                using var doc = JsonDocument.Parse(cases[i].Raw);
                var time = DateTimeOffset.Parse(doc.RootElement.GetProperty("time").GetString()!, CultureInfo.InvariantCulture).UtcDateTime;
                var q = doc.RootElement.GetProperty("quantity");
                var quantity = decimal.Parse(q.ValueKind == JsonValueKind.String ? q.GetString()! : q.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
                var key = (cases[i].Account, time.ToString("yyyy-MM", CultureInfo.InvariantCulture), cases[i].Sku);
                expected[key] = expected.GetValueOrDefault(key) + quantity;
            }
        }

        foreach (var group in expected.GroupBy(e => (e.Key.Account, e.Key.Period)))
        {
            using var response = await http.GetAsync($"/v1/accounts/{Uri.EscapeDataString(group.Key.Account)}/periods/{group.Key.Period}");
            var json = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"seed {seed}: GET of account {JsonSerializer.Serialize(group.Key.Account)}: {(int)response.StatusCode} {json}");
            using var doc = JsonDocument.Parse(json);
            Assert.Equal(group.Key.Account, doc.RootElement.GetProperty("account").GetString());
            var lines = doc.RootElement.GetProperty("lines").EnumerateArray().ToDictionary(l => l.GetProperty("sku").GetString()!, l => decimal.Parse(l.GetProperty("quantity").GetString()!, CultureInfo.InvariantCulture));
            foreach (var line in group)
            {
                Assert.True(lines.TryGetValue(line.Key.Sku, out var q) && q == line.Value, $"seed {seed}: {group.Key.Account}/{line.Key.Sku}: expected {line.Value}, read {q}");
            }
        }
    }
}
