using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.Ingest.CloudEvents;
using Metering.Ingest.Streaming;
using Metering.Ledger.PriceBooks;
using Metering.Ledger.Verification;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// The latest and unique_count meters in a running engine (docs/meters.md): the engine carries each record's event id
/// (as admitted, after JSON unescaping) and the fingerprint of its <c>field</c> dimension's value (a dimension the
/// aggregate key drops) to the flush, which merges them into the total's state in its transaction; a restart, a crash
/// at any record and any split into flushes count every record exactly once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LatestAndUniqueMeterStreamingTests(PostgresFixture postgres) : IDisposable
{
    private const string BookId = "lu-list";
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // seats.current: 8.00 per seat last reported. app.active_users: 2.00 per distinct user. app.capped: 1.00 per distinct
    // user, counted exactly up to 3 per (account, period).
    private const string Book = """
        { "id": "lu-list", "currency": "USD", "rounding": "half_up", "versions": [
          { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "prices": {
            "seats.current": { "model": "per_unit", "unit": "seat", "unit_price": "8.00", "meter": { "aggregation": "latest" } },
            "app.active_users": { "model": "per_unit", "unit": "user", "unit_price": "2.00", "meter": { "aggregation": "unique_count", "field": "dimensions.user_id" } },
            "app.capped": { "model": "per_unit", "unit": "user", "unit_price": "1.00", "meter": { "aggregation": "unique_count", "field": "dimensions.user_id", "max_distinct": 3 } } } } ] }
        """;

    /// <summary>One native record; <paramref name="id"/> and <paramref name="user"/> are written into the JSON as given (so they may hold escapes).</summary>
    private static string Record(string account, string id, string sku, string quantity, string time, string? user = null) =>
        $"{{\"id\":\"{id}\",\"account\":\"{account}\",\"sku\":\"{sku}\",\"quantity\":\"{quantity}\",\"time\":\"{time}\"" +
        (user is null ? "" : $",\"dimensions\":{{\"user_id\":\"{user}\",\"region\":\"eu\"}}") + "}\n";

    private async Task<(NpgsqlDataSource Db, string Cs, PriceCatalogSource Prices, StreamingOptions Options)> StartAsync(string topic, int partitions = 2, EventMapping? mapping = null)
    {
        var engine = await MeteredEngine.StartAsync(postgres, _kafka, topic, BookId, Book, partitions, mapping);
        return (engine.Db, engine.ConnectionString, engine.Prices, engine.Options);
    }

    private Task ProduceAsync(StreamingOptions options, string records) => MeteredEngine.ProduceAsync(_kafka, options.Topic, records);

    private sealed record Total(long Count, decimal Amount, decimal? Metered, string? Unpriced);

    /// <summary>Per (account, SKU) of November: the total's record count and amount, and its meter's quantity and unpriced reason.</summary>
    private static async Task<Dictionary<(string Account, string Sku), Total>> TotalsAsync(NpgsqlDataSource db)
    {
        var totals = new Dictionary<(string, string), Total>();
        await using var cmd = db.CreateCommand("""
            SELECT t.account, t.sku, t.record_count, t.amount, m.quantity, m.unpriced
            FROM billing_period_totals t
            LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from
            WHERE t.period_start = '2026-11-01T00:00:00Z'
            """);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            totals[(r.GetString(0), r.GetString(1))] = new Total(r.GetInt64(2), r.GetDecimal(3), r.IsDBNull(4) ? null : r.GetDecimal(4), r.IsDBNull(5) ? null : r.GetString(5));
        }

        return totals;
    }

    /// <summary>The usage lines of <paramref name="account"/>'s November statement, by SKU.</summary>
    private static async Task<Dictionary<string, JsonElement>> StatementLinesAsync(HttpClient client, string account)
    {
        using var response = await client.GetAsync($"/v1/accounts/{account}/statements/2026-11");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("usage").EnumerateArray().ToDictionary(l => l.GetProperty("sku").GetString()!, l => l.Clone());
    }

    private static (string Quantity, string Amount) Priced(JsonElement line) =>
        (line.GetProperty("recorded_quantity").GetString()!, line.GetProperty("amount").GetString()!);

    [Fact]
    public async Task Latest_breaks_a_tie_on_event_time_by_the_greater_unescaped_id_and_unique_count_counts_distinct_values_apart_from_records_without_the_field_across_a_restart_priced_on_the_statement()
    {
        var (db, cs, prices, options) = await StartAsync("lu-worked");
        await using var _ = db;
        await using var __ = prices;
        const string Day = "2026-11-02T";
        // docs/meters.md: (10:00, b, 5), (10:05, a, 8), (10:05, c, 4) is 4 in any arrival order. acct-l gets them across a
        // restart (c and b first, a after it), acct-r all three in one flush in another order.
        // unique_count: u1, u2, u1 and one record without user_id (the dimension is not kept in the aggregate key).
        await ProduceAsync(options, string.Concat(
            Record("acct-l", "c", "seats.current", "4", Day + "10:05:00Z"), Record("acct-l", "b", "seats.current", "5", Day + "10:00:00Z"),
            Record("acct-r", "a", "seats.current", "8", Day + "10:05:00Z"), Record("acct-r", "b", "seats.current", "5", Day + "10:00:00Z"),
            Record("acct-r", "c", "seats.current", "4", Day + "10:05:00Z"),
            Record("acct-l", "u-1", "app.active_users", "1", Day + "09:00:00Z", "u1"), Record("acct-l", "u-2", "app.active_users", "1", Day + "09:01:00Z", "u2"),
            Record("acct-l", "u-3", "app.active_users", "1", Day + "12:00:00Z", "u1"), Record("acct-l", "u-4", "app.active_users", "1", Day + "12:00:00Z"),
            Record("acct-l", "k-1", "app.capped", "1", Day + "09:00:00Z", "u1"), Record("acct-l", "k-2", "app.capped", "1", Day + "09:00:00Z", "u2"),
            Record("acct-l", "k-3", "app.capped", "1", Day + "09:00:00Z", "u3")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 12);
        var first = await TotalsAsync(db);
        Assert.Equal(new Total(2, 32.00m, 4m, null), first[("acct-l", "seats.current")]);
        Assert.Equal(new Total(3, 32.00m, 4m, null), first[("acct-r", "seats.current")]);
        Assert.Equal(new Total(4, 4.00m, 2m, null), first[("acct-l", "app.active_users")]);
        Assert.Equal(new Total(3, 3.00m, 3m, null), first[("acct-l", "app.capped")]);

        // The restart merges into the stored states. a ties with c at 10:05 and loses ("a" < "c"); c again is a duplicate.
        // u3 is new; u-2 again is a duplicate and never counted; u-3 with another user is a conflict, rejected.
        await ProduceAsync(options, string.Concat(
            Record("acct-l", "a", "seats.current", "8", Day + "10:05:00Z"), Record("acct-l", "c", "seats.current", "4", Day + "10:05:00Z"),
            Record("acct-l", "u-5", "app.active_users", "1", Day + "13:00:00Z", "u3"), Record("acct-l", "u-2", "app.active_users", "1", Day + "09:01:00Z", "u2"),
            Record("acct-l", "u-3", "app.active_users", "1", Day + "12:00:00Z", "u9"), Record("acct-l", "u-6", "app.active_users", "1", Day + "14:00:00Z", "u1")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 18);
        var second = await TotalsAsync(db);
        Assert.Equal(new Total(3, 32.00m, 4m, null), second[("acct-l", "seats.current")]);
        Assert.Equal(new Total(6, 6.00m, 3m, null), second[("acct-l", "app.active_users")]);

        // The tie is on the id's bytes after JSON unescaping: "\u00e9" is é (0xC3 0xA9), above "c" (0x63), though its
        // escaped text starts with a backslash (0x5C), below it. A record before 10:05 changes nothing, whatever its id.
        // A fourth distinct value puts app.capped over its bound for good: unpriced, never an approximation billed.
        await ProduceAsync(options, string.Concat(
            Record("acct-l", "\\u00e9", "seats.current", "6", Day + "10:05:00Z"), Record("acct-l", "zz", "seats.current", "9", Day + "10:04:59Z"),
            Record("acct-l", "k-4", "app.capped", "1", Day + "10:00:00Z", "u4"), Record("acct-l", "k-5", "app.capped", "1", Day + "11:00:00Z", "u1")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 22);
        var third = await TotalsAsync(db);
        Assert.Equal(new Total(5, 48.00m, 6m, null), third[("acct-l", "seats.current")]);
        Assert.Equal(new Total(5, 0m, 0m, "meter_over_bound"), third[("acct-l", "app.capped")]);

        // The ledger keeps why (the API's line carries the reason only).
        await using (var cmd = db.CreateCommand("SELECT detail FROM meter_states WHERE account = 'acct-l' AND sku = 'app.capped'"))
        {
            Assert.StartsWith("more than 3 distinct values of dimensions.user_id in the period", (string)(await cmd.ExecuteScalarAsync())!, StringComparison.Ordinal);
        }

        var conflict = Assert.Single(await StreamingConflictTests.DeadLettersAsync(db));
        Assert.Equal("conflict", conflict.Reason);
        Assert.Contains("\"u9\"", conflict.Raw, StringComparison.Ordinal);

        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));

        await using var api = await ApiTestHost.StartOnAsync(cs, prices);
        var client = api.Client(ApiTestHost.Token("billing:read"));
        var lines = await StatementLinesAsync(client, "acct-l");
        Assert.Equal(("6", "48.00"), Priced(lines["seats.current"]));
        Assert.Equal(("3", "6.00"), Priced(lines["app.active_users"]));
        var capped = lines["app.capped"];
        Assert.False(capped.GetProperty("priced").GetBoolean(), capped.GetRawText());
        Assert.Equal("meter_over_bound", capped.GetProperty("unpriced_reason").GetString());
        Assert.Equal(0m, decimal.Parse(capped.GetProperty("amount").GetString()!, CultureInfo.InvariantCulture));
        Assert.Equal(("4", "32.00"), Priced((await StatementLinesAsync(client, "acct-r"))["seats.current"]));
    }

    [Fact]
    public async Task A_cloudevent_carries_its_translated_id_and_mapped_dimension_to_the_meters()
    {
        var (mapping, errors) = EventMapping.Validate(Encoding.UTF8.GetBytes("""
            {"types": {
              "com.example.app.active": {"sku": "app.active_users", "account": "subject", "quantity": "$.count", "dimensions": {"user_id": "$.user"}},
              "com.example.seats":      {"sku": "seats.current", "account": "subject", "quantity": "$.seats"}
            }}
            """));
        Assert.True(mapping is not null, string.Join("; ", errors));
        var (db, _, prices, options) = await StartAsync("lu-cloudevents", mapping: mapping);
        await using var __ = db;
        await using var ___ = prices;
        static string Event(string type, string id, string time, string data) =>
            $$$"""{"specversion":"1.0","type":"{{{type}}}","source":"/app","id":"{{{id}}}","subject":"acct-ce","time":"{{{time}}}","datacontenttype":"application/json","data":{{{data}}}}""";
        var structured = new Headers { { "content-type", Encoding.UTF8.GetBytes(CloudEventDecoder.StructuredMediaType) } };
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var (headers, value) in new (Headers?, string)[]
            {
                (structured, Event("com.example.app.active", "e-1", "2026-11-03T10:00:00Z", """{"count":1,"user":"x1"}""")),
                (structured, Event("com.example.app.active", "e-2", "2026-11-03T10:01:00Z", """{"count":1,"user":"x2"}""")),
                (structured, Event("com.example.app.active", "e-3", "2026-11-03T10:02:00Z", """{"count":1,"user":"x1"}""")),
                (structured, Event("com.example.app.active", "e-4", "2026-11-03T10:03:00Z", """{"count":1}""")),
                (null, Record("acct-ce", "n-1", "app.active_users", "1", "2026-11-03T10:04:00Z", "x3").TrimEnd('\n')),
                (structured, Event("com.example.seats", "s-1", "2026-11-03T10:00:00Z", """{"seats":5}""")),
                (structured, Event("com.example.seats", "s-2", "2026-11-03T11:00:00Z", """{"seats":7}""")),
                (structured, Event("com.example.seats", "s-3", "2026-11-03T09:00:00Z", """{"seats":9}""")),
            })
            {
                producer.Produce(options.Topic, new Message<string, byte[]> { Key = "k", Value = Encoding.UTF8.GetBytes(value), Headers = headers });
            }

            producer.Flush(TimeSpan.FromSeconds(10));
        }

        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 8);
        var totals = await TotalsAsync(db);
        // x1, x2, x3 (a native record next to the events) and one event without the mapped user: 3 users.
        Assert.Equal(new Total(5, 6.00m, 3m, null), totals[("acct-ce", "app.active_users")]);
        Assert.Equal(new Total(3, 56.00m, 7m, null), totals[("acct-ce", "seats.current")]);
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    private sealed record Sent(string Account, string Id, string Sku, long Nanos, DateTime Time, string? User);

    [Fact]
    public async Task Random_records_split_into_random_flushes_and_killed_at_random_records_commit_latest_and_unique_count_equal_to_a_plain_reference_over_the_deduplicated_input()
    {
        var (db, _, prices, options) = await StartAsync("lu-property", partitions: 3);
        await using var __ = db;
        await using var ___ = prices;
        var random = new Random(20261203);
        var november = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        // Few distinct times, so latest ties often; ids whose UTF-8 order differs from their escaped text's and UTF-16's.
        var prefixes = new[] { "a", "b", "z", "é", "日", "𝄞", "~", "A" };
        var accounts = new[] { "acct-p1", "acct-p2" };
        var records = new List<Sent>();
        var text = new StringBuilder();
        for (var i = 0; i < 1_000; i++)
        {
            var duplicate = records.Count > 0 && random.Next(10) == 0;
            Sent r;
            if (duplicate)
            {
                r = records[random.Next(records.Count)];
            }
            else
            {
                var account = accounts[random.Next(accounts.Length)];
                var sku = random.Next(3) switch { 0 => "seats.current", 1 => "app.active_users", _ => "app.capped" };
                // acct-p1's app.capped stays within its bound of 3 values, acct-p2's goes over it.
                var users = sku == "app.capped" ? (account == "acct-p1" ? 3 : 5) : 60;
                var user = sku == "seats.current" || random.Next(8) == 0 ? null : "user-" + random.Next(users).ToString(CultureInfo.InvariantCulture);
                r = new Sent(account, prefixes[random.Next(prefixes.Length)] + i.ToString(CultureInfo.InvariantCulture), sku,
                    random.Next(0, 1_000_000) * 1_000L, november.AddMinutes(random.Next(0, 40) * 997), user);
                records.Add(r);
            }

            // A copy may escape its id otherwise: after unescaping it is the same id, so a duplicate.
            text.Append(Record(r.Account, Escaped(r.Id, random), r.Sku, (r.Nanos / 1_000_000_000m).ToString(CultureInfo.InvariantCulture),
                r.Time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), r.User));
        }

        await ProduceAsync(options, text.ToString());
        var committed = 0L;
        for (var run = 0; run < 8 && committed < 1_000; run++)
        {
            // Each engine flushes every few records and is killed (no final flush, no clean leave) at a random record.
            var crashing = options with { MaxRecordsPerFlush = random.Next(20, 200), CrashAfterRecords = random.Next(100, 600) };
            await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(crashing, db, prices), db, options, 1_000);
            committed = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
        }

        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 1_000);
        var totals = await TotalsAsync(db);
        var keys = records.GroupBy(r => (r.Account, r.Sku)).ToList();
        Assert.Equal(keys.Count, totals.Count);
        var overBound = 0;
        foreach (var key in keys)
        {
            var list = key.ToList();
            Total expected;
            if (key.Key.Sku == "seats.current")
            {
                // The greatest event time; a tie: the greater id, ordinal over its UTF-8 bytes.
                var latest = list.OrderBy(r => r.Time).ThenBy(r => Encoding.UTF8.GetBytes(r.Id), Utf8Order.Instance).Last();
                expected = new Total(list.Count, Math.Round(latest.Nanos / 1_000_000_000m * 8.00m, 2, MidpointRounding.AwayFromZero), latest.Nanos / 1_000_000_000m, null);
            }
            else
            {
                var distinct = list.Where(r => r.User is not null).Select(r => r.User).Distinct(StringComparer.Ordinal).Count();
                var bound = key.Key.Sku == "app.capped" ? 3 : int.MaxValue;
                var unitPrice = key.Key.Sku == "app.capped" ? 1.00m : 2.00m;
                expected = distinct > bound ? new Total(list.Count, 0m, 0m, "meter_over_bound") : new Total(list.Count, distinct * unitPrice, distinct, null);
                overBound += distinct > bound ? 1 : 0;
            }

            Assert.Equal(expected, totals[key.Key]);
        }

        Assert.Equal(1, overBound); // acct-p2's app.capped, and only it
        Assert.Empty(await StreamingConflictTests.DeadLettersAsync(db));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    /// <summary>The id as JSON string content: each character written as itself or, at random, as a \u escape (surrogate pairs as two).</summary>
    private static string Escaped(string id, Random random)
    {
        var json = new StringBuilder();
        for (var i = 0; i < id.Length; i++)
        {
            // A surrogate pair is escaped whole or not at all: half of one escaped is not valid JSON text.
            var units = char.IsHighSurrogate(id[i]) ? 2 : 1;
            if (random.Next(3) == 0)
            {
                for (var u = 0; u < units; u++)
                {
                    json.Append(CultureInfo.InvariantCulture, $"\\u{(int)id[i + u]:x4}");
                }
            }
            else
            {
                json.Append(id, i, units);
            }

            i += units - 1;
        }

        return json.ToString();
    }

    /// <summary>Ordinal order over byte arrays (the latest meter's tie-break, as docs/meters.md defines it).</summary>
    private sealed class Utf8Order : IComparer<byte[]>
    {
        public static Utf8Order Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
