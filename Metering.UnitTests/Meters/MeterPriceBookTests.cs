using Metering.Rating.Meters;
using Metering.Rating.PriceBooks;

namespace Metering.UnitTests.Meters;

/// <summary>The <c>meter</c> of a price (docs/meters.md): parsed per SKU, versioned with the book, every bad field an error at its JSON path.</summary>
public class MeterPriceBookTests
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");

    private static string Book(string meter, string model = """ "model":"per_unit","unit_price":"0.01" """) =>
        """{"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{"s":{""" + model + ""","meter":""" + meter + "}}}]}";

    private static IReadOnlyList<PriceBookError> Errors(string json, PriceBook? parent = null) => PriceBookLoader.Validate(PriceBookLoader.Utf8(json), parent).Errors;

    private static MeterDefinition MeterOf(string json) => PriceBookLoader.Load(PriceBookLoader.Utf8(json), "test").Versions[0].Prices["s"].Meter;

    // The hashes main computed for the example books before meters existed (its Metering.Rating.dll, 2026-12-02): a book
    // without a meter must keep its lineage, so every rated line and published version stays traceable. list.json has
    // since gained five metered SKUs (the main job's): without them, its versions hash as they did.
    [Theory]
    [InlineData("list.json", "2026-10", "sha256:ad2be0f682f59bb253e7702d1df43d4ae558a2837bf7cc0a2d49b26bc6d20e0c")]
    [InlineData("list.json", "2026-11", "sha256:296b977880dcf9fce33dae938a0798e4c2ecf20d73e52e5234c2a4617a75685c")]
    [InlineData("contract-acct-1.json", "2026-11-enterprise", "sha256:ec7a73f61aefe1f563b47b37cdbcd60a4de106c0ffed3b5ff74f51e5350b29d2")]
    [InlineData("multi-currency.json", "2026-11", "sha256:b5ae502ce4ecbb7b793c1fce1bb5504e8bfabf4dcd5a6aef1f472756b48e08cb")]
    public void Example_books_without_a_meter_keep_their_hash_and_meter_every_sku_as_a_sum(string file, string version, string hash)
    {
        var list = PriceBookLoader.Load(WithoutMeteredSkus(Path.Combine(Examples, "list.json")), "list.json");
        var book = file switch
        {
            "list.json" => list,
            _ when file.StartsWith("contract", StringComparison.Ordinal) => PriceBookLoader.LoadFile(Path.Combine(Examples, file), list),
            _ => PriceBookLoader.LoadFile(Path.Combine(Examples, file)),
        };
        var v = Assert.Single(book.Versions, v => v.Version == version);
        Assert.Equal(hash, v.Hash);
        Assert.All(v.Prices.Values, p => Assert.Same(MeterDefinition.Sum, p.Meter));
    }

    [Fact]
    public void The_list_book_meters_the_main_jobs_seven_metered_skus_and_sums_every_other()
    {
        var v = Assert.Single(PriceBookLoader.LoadFile(Path.Combine(Examples, "list.json")).Versions, v => v.Version == "2026-11");
        var meters = v.Prices.Where(p => !p.Value.Meter.IsSum).ToDictionary(p => p.Key, p => p.Value.Meter.AggregationName);
        Assert.Equal(new Dictionary<string, string>
        {
            ["gpu.peak"] = "max", ["db.floor"] = "min", ["workers.invocations"] = "count", ["r2.storage.mb"] = "time_weighted", ["transit.bytes"] = "percentile",
            ["seats.current"] = "latest", ["regions.active"] = "unique_count",
        }, meters);
        Assert.Empty(PriceBookValidation.UnratedMeters(PriceBookLoader.LoadFile(Path.Combine(Examples, "list.json"))));
    }

    // The book's JSON with every price that names a meter left out.
    private static byte[] WithoutMeteredSkus(string path)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        foreach (var version in root["versions"]!.AsArray())
        {
            var prices = version!["prices"]!.AsObject();
            foreach (var sku in prices.Where(p => p.Value!["meter"] is not null).Select(p => p.Key).ToList())
            {
                prices.Remove(sku);
            }
        }

        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    [Fact]
    public void The_meters_example_book_meters_each_sku_as_its_name_says_and_rates_a_p95_of_68_MB_per_5_minutes()
    {
        var book = PriceBookLoader.LoadFile(Path.Combine(Examples, "meters.json"));
        var prices = Assert.Single(book.Versions).Prices;
        Assert.Equal(MeterAggregation.Count, prices["api.calls"].Meter.Aggregation);
        Assert.Equal(MeterAggregation.Max, prices["gpu.peak"].Meter.Aggregation);
        Assert.Equal(MeterAggregation.Min, prices["db.floor"].Meter.Aggregation);
        Assert.Equal(MeterAggregation.Latest, prices["seats.current"].Meter.Aggregation);
        Assert.Equal("user_id", prices["app.active_users"].Meter.DimensionKey);
        Assert.Equal(TimeSpan.FromHours(1), prices["r2.storage.gb_hours"].Meter.UnitOfTime);
        var transit = prices["transit.p95"];
        Assert.Equal((95m, TimeSpan.FromMinutes(5)), (transit.Meter.Percentile, transit.Meter.Bucket));

        // 68,000,000 bytes in the billed bucket: 226,666.666666666 bytes/s = 1.813333333333328 Mbit/s x 0.50 = 0.906666666666664.
        Assert.Equal(0.906666666666664m, transit.Amount(226_666.666666666m));
    }

    [Fact]
    public void A_meter_is_part_of_the_versions_hash()
    {
        var plain = """{"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{"s":{"model":"per_unit","unit_price":"0.01"}}}]}""";
        var sumHash = PriceBookLoader.Load(PriceBookLoader.Utf8(plain), "t").Versions[0].Hash;
        var maxHash = PriceBookLoader.Load(PriceBookLoader.Utf8(Book("""{"aggregation":"max"}""")), "t").Versions[0].Hash;
        Assert.NotEqual(sumHash, maxHash);
    }

    [Fact]
    public void Each_meter_parses_with_its_defaults()
    {
        Assert.Equal(MeterAggregation.Max, MeterOf(Book("""{"aggregation":"max"}""")).Aggregation);
        Assert.Equal(MeterAggregation.Latest, MeterOf(Book("""{"aggregation":"latest"}""")).Aggregation);

        var unique = MeterOf(Book("""{"aggregation":"unique_count","field":"dimensions.user_id"}"""));
        Assert.Equal(("dimensions.user_id", "user_id", MeterDefinition.DefaultMaxDistinct), (unique.Field, unique.DimensionKey, unique.MaxDistinct));

        var tw = MeterOf(Book("""{"aggregation":"time_weighted"}"""));
        Assert.Equal((TimeSpan.FromHours(1), MeterDefinition.DefaultMaxReadings), (tw.UnitOfTime, tw.MaxReadings));

        var p95 = MeterOf(Book("""{"aggregation":"percentile","percentile":95,"rate_per":"1s"}"""));
        Assert.Equal((95m, TimeSpan.FromMinutes(5), (TimeSpan?)TimeSpan.FromSeconds(1)), (p95.Percentile, p95.Bucket, p95.RatePer));
        Assert.Equal("""{"aggregation":"percentile","percentile":95,"bucket":"5m","rate_per":"1s"}""", p95.ToString());
    }

    [Fact]
    public void Every_pricing_model_takes_a_meter()
    {
        string[] models =
        [
            """ "model":"per_unit","unit_price":"0.01" """,
            """ "model":"graduated","tiers":[{"up_to":"10","unit_price":"1"},{"up_to":null,"unit_price":"0.5"}] """,
            """ "model":"volume","tiers":[{"up_to":"10","unit_price":"1"},{"up_to":null,"unit_price":"0.5"}] """,
            """ "model":"package","package_size":"100","package_price":"2" """,
            """ "model":"percentage","rate":"2" """,
        ];
        foreach (var model in models)
        {
            Assert.Equal(MeterAggregation.Percentile, MeterOf(Book("""{"aggregation":"percentile","percentile":95}""", model)).Aggregation);
        }
    }

    [Theory]
    [InlineData("""{"aggregation":"avg"}""", "$.versions[0].prices[\"s\"].meter.aggregation", "'avg' is not one of sum, count, max, min, latest, unique_count, time_weighted, percentile (an average is not billable exactly")]
    [InlineData("""{}""", "$.versions[0].prices[\"s\"].meter.aggregation", "is required: one of sum")]
    [InlineData("\"max\"", "$.versions[0].prices[\"s\"].meter", "must be an object such as {\"aggregation\": \"max\"}")]
    [InlineData("""{"aggregation":"max","colour":"red"}""", "$.versions[0].prices[\"s\"].meter.colour", "unknown field (a meter has: aggregation, field, max_distinct")]
    [InlineData("""{"aggregation":"max","field":"dimensions.user_id"}""", "$.versions[0].prices[\"s\"].meter.field", "does not belong to a max meter, which would ignore it (it has: aggregation)")]
    [InlineData("""{"aggregation":"unique_count"}""", "$.versions[0].prices[\"s\"].meter.field", "is required for unique_count")]
    [InlineData("""{"aggregation":"unique_count","field":"user_id"}""", "$.versions[0].prices[\"s\"].meter.field", "'user_id' is not \"dimensions.KEY\"")]
    [InlineData("""{"aggregation":"unique_count","field":"dimensions.u","max_distinct":0}""", "$.versions[0].prices[\"s\"].meter.max_distinct", "0 is not a whole number from 1 to 1,000,000")]
    [InlineData("""{"aggregation":"unique_count","field":"dimensions.u","max_distinct":2000000}""", "$.versions[0].prices[\"s\"].meter.max_distinct", "2000000 is not a whole number from 1 to 1,000,000")]
    [InlineData("""{"aggregation":"unique_count","field":"dimensions.u","max_distinct":"1.5"}""", "$.versions[0].prices[\"s\"].meter.max_distinct", "'1.5' is not a whole number")]
    [InlineData("""{"aggregation":"time_weighted","unit_of_time":"fortnight"}""", "$.versions[0].prices[\"s\"].meter.unit_of_time", "'fortnight' is not one of second, minute, hour, day")]
    [InlineData("""{"aggregation":"time_weighted","max_readings":-1}""", "$.versions[0].prices[\"s\"].meter.max_readings", "-1 is not a whole number from 1 to 1,000,000")]
    [InlineData("""{"aggregation":"percentile"}""", "$.versions[0].prices[\"s\"].meter.percentile", "is required for a percentile meter")]
    [InlineData("""{"aggregation":"percentile","percentile":100}""", "$.versions[0].prices[\"s\"].meter.percentile", "100 is not a number above 0 and below 100")]
    [InlineData("""{"aggregation":"percentile","percentile":0}""", "$.versions[0].prices[\"s\"].meter.percentile", "0 is not a number above 0 and below 100")]
    [InlineData("""{"aggregation":"percentile","percentile":95,"bucket":"7m"}""", "$.versions[0].prices[\"s\"].meter.bucket", "7m does not divide an hour")]
    [InlineData("""{"aggregation":"percentile","percentile":95,"bucket":"2h"}""", "$.versions[0].prices[\"s\"].meter.bucket", "2h does not divide an hour")]
    [InlineData("""{"aggregation":"percentile","percentile":95,"bucket":"5 minutes"}""", "$.versions[0].prices[\"s\"].meter.bucket", "'5 minutes' is not a duration such as \"5m\"")]
    [InlineData("""{"aggregation":"percentile","percentile":95,"bucket":"1s"}""", "$.versions[0].prices[\"s\"].meter.bucket", "a billing period of up to 31.04 days holds more than 1048576 buckets of 1s")]
    [InlineData("""{"aggregation":"percentile","percentile":95,"rate_per":"10m"}""", "$.versions[0].prices[\"s\"].meter.rate_per", "10m is longer than the bucket (5m)")]
    public void A_bad_meter_is_an_error_at_its_path(string meter, string path, string message)
    {
        var errors = Errors(Book(meter));
        Assert.Contains(errors, e => e.Path == path && e.Message.StartsWith(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pricebook_validate_exits_1_on_meter_problems_each_reported_with_its_path()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{
              "a":{"model":"per_unit","unit_price":"1","meter":{"aggregation":"avg"}},
              "u":{"model":"per_unit","unit_price":"1","meter":{"aggregation":"unique_count"}},
              "p":{"model":"per_unit","unit_price":"1","meter":{"aggregation":"percentile","percentile":100,"bucket":"7m"}}}}]}
            """);
        // The command prints the loader's errors (on Console.Error, not captured here: tests run in parallel).
        Assert.Equal(1, await Metering.Cli.Program.RunAsync(["pricebook", "validate", file], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        var errors = PriceBookLoader.Validate(await File.ReadAllBytesAsync(file)).Errors.Select(e => e.ToString()).ToArray();
        Assert.Equal(4, errors.Length);
        Assert.StartsWith("$.versions[0].prices[\"a\"].meter.aggregation: 'avg' is not one of", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("$.versions[0].prices[\"u\"].meter.field: is required for unique_count", errors[1], StringComparison.Ordinal);
        Assert.StartsWith("$.versions[0].prices[\"p\"].meter.percentile: 100 is not a number above 0 and below 100", errors[2], StringComparison.Ordinal);
        Assert.StartsWith("$.versions[0].prices[\"p\"].meter.bucket: 7m does not divide an hour", errors[3], StringComparison.Ordinal);
        File.Delete(file);
    }

    [Fact]
    public void A_per_transaction_percentage_needs_the_sum_meter()
    {
        var errors = Errors(Book("""{"aggregation":"max"}""", """ "model":"percentage","rate":"2","per_transaction_min":"0.50" """));
        var e = Assert.Single(errors);
        Assert.Equal("$.versions[0].prices[\"s\"].meter.aggregation", e.Path);
        Assert.StartsWith("a percentage price with per-transaction bounds", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_meter_cannot_change_between_the_versions_of_a_book()
    {
        var json = """
            {"id":"b","currency":"USD","versions":[
              {"version":"oct","effective_from":"2026-10-01T00:00:00Z","effective_to":"2026-11-01T00:00:00Z","prices":{"s":{"model":"per_unit","unit_price":"1"}}},
              {"version":"nov","effective_from":"2026-11-01T00:00:00Z","prices":{"s":{"model":"per_unit","unit_price":"1","meter":{"aggregation":"max"}}}}]}
            """;
        var e = Assert.Single(Errors(json));
        Assert.Equal("$.versions[1].prices[\"s\"].meter", e.Path);
        Assert.Equal("the meter of 's' changes from {\"aggregation\":\"sum\"} in version 'oct' to {\"aggregation\":\"max\"} here: a SKU keeps one meter in every version (its period quantity carries across a version change); meter it as a new SKU", e.Message);
    }

    [Fact]
    public void A_contract_cannot_meter_a_sku_otherwise_than_its_list_book()
    {
        var list = PriceBookLoader.Load(PriceBookLoader.Utf8(Book("""{"aggregation":"unique_count","field":"dimensions.user_id"}""")), "list");
        var contract = """
            {"id":"c","account":"acct-1","parent":"b","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z",
              "prices":{"s":{"model":"per_unit","unit_price":"0.005","meter":{"aggregation":"unique_count","field":"dimensions.user_id","max_distinct":5}}}}]}
            """;
        var e = Assert.Single(Errors(contract, list));
        Assert.Equal("$.versions[0].prices[\"s\"].meter", e.Path);
        Assert.StartsWith("the meter {\"aggregation\":\"unique_count\",\"field\":\"dimensions.user_id\",\"max_distinct\":5} differs from the list book 'b''s", e.Message, StringComparison.Ordinal);

        var same = contract.Replace(",\"max_distinct\":5", "", StringComparison.Ordinal);
        Assert.Empty(Errors(same, list));
    }

    [Fact]
    public void Publishing_a_version_that_changes_a_meter_is_refused_against_the_registry()
    {
        var published = PriceBookLoader.Load(PriceBookLoader.Utf8(Book("""{"aggregation":"max"}""")), "p").Versions;
        var next = """{"id":"b","currency":"USD","versions":[{"version":"v2","effective_from":"2026-12-01T00:00:00Z","prices":{"s":{"model":"per_unit","unit_price":"0.01"}}}]}""";
        var e = Assert.Single(PriceBookValidation.PublishMeterChanges(PriceBookLoader.Load(PriceBookLoader.Utf8(next), "n"), published));
        Assert.Equal("$.versions[0].prices[\"s\"].meter", e.Path);
        Assert.Contains("from {\"aggregation\":\"max\"} in the published version 'v1' to {\"aggregation\":\"sum\"} here", e.Message, StringComparison.Ordinal);

        var same = PriceBookLoader.Load(PriceBookLoader.Utf8(Book("""{"aggregation":"max"}""").Replace("v1", "v2", StringComparison.Ordinal)), "n");
        Assert.Empty(PriceBookValidation.PublishMeterChanges(same, published));
    }

    [Fact]
    public void A_currency_option_shares_the_prices_meter()
    {
        var json = """
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{"s":{"model":"per_unit","unit_price":"0.01",
              "meter":{"aggregation":"max"},"currency_options":{"EUR":{"unit_price":"0.009","meter":{"aggregation":"min"}}}}}}]}
            """;
        var e = Assert.Single(Errors(json));
        Assert.Equal("$.versions[0].prices[\"s\"].currency_options.EUR.meter", e.Path);
        Assert.StartsWith("is shared by every currency of the price", e.Message, StringComparison.Ordinal);

        var ok = PriceBookLoader.Load(PriceBookLoader.Utf8(json.Replace(",\"meter\":{\"aggregation\":\"min\"}", "", StringComparison.Ordinal)), "t");
        Assert.Equal(MeterAggregation.Max, ok.Versions[0].PriceIn("s", Metering.Rating.Money.Currency.Get("EUR"), ok.Currency)!.Meter.Aggregation);
    }
}
