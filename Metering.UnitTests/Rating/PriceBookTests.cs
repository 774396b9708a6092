using Metering.Cli;
using Metering.Rating.PriceBooks;

namespace Metering.UnitTests.Rating;

public class PriceBookTests
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");

    private static PriceBook List() => PriceBookLoader.LoadFile(Path.Combine(Examples, "list.json"));

    private static IReadOnlyList<PriceBookError> Errors(string json, PriceBook? parent = null) =>
        PriceBookLoader.Validate(PriceBookLoader.Utf8(json), parent).Errors;

    private const string Header = """{"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{"s":""";

    [Theory]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":10,"unit_price":1},{"up_to":5,"unit_price":1},{"up_to":null,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[1].up_to", "tiers must ascend")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":10,"unit_price":1},{"up_to":20,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[1].up_to", "open-ended")]
    [InlineData("""{"model":"volume","tiers":[{"up_to":null,"unit_price":1},{"up_to":null,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[0].up_to", "only the last tier")]
    [InlineData("""{"model":"per_unit","unit_price":"-0.01"}""", "$.versions[0].prices[\"s\"].unit_price", "must not be negative")]
    [InlineData("""{"model":"per_unit","unit_price":"abc"}""", "$.versions[0].prices[\"s\"].unit_price", "decimal number")]
    [InlineData("""{"model":"per_unt","unit_price":1}""", "$.versions[0].prices[\"s\"].model", "not one of")]
    [InlineData("""{"model":"per_unit","unit_prise":1}""", "$.versions[0].prices[\"s\"].unit_prise", "unknown field")]
    [InlineData("""{"model":"package","package_size":0,"package_price":1}""", "$.versions[0].prices[\"s\"].package_size", "greater than zero")]
    [InlineData("""{"model":"percentage","rate":101}""", "$.versions[0].prices[\"s\"].rate", "at most 100")]
    [InlineData("""{"model":"percentage","rate":1,"per_transaction_min":5,"per_transaction_max":1}""", "$.versions[0].prices[\"s\"].per_transaction_min", "must not exceed")]
    [InlineData("""{"model":"per_unit","unit_price":1,"convert":{"divide_by":0}}""", "$.versions[0].prices[\"s\"].convert.divide_by", "greater than zero")]
    public void Invalid_prices_are_rejected_with_the_json_path_of_the_problem(string price, string path, string message)
    {
        var errors = Errors(Header + price + "}}]}");
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_currency_and_overlapping_versions_are_rejected()
    {
        var errors = Errors("""
            {"id":"b","currency":"XYZ","versions":[
              {"version":"a","effective_from":"2026-01-01T00:00:00Z","effective_to":"2026-03-01T00:00:00Z","prices":{}},
              {"version":"b","effective_from":"2026-02-01T00:00:00Z","prices":{}}]}
            """);
        Assert.Contains(errors, e => e.Path == "$.currency" && e.Message.Contains("ISO 4217", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "$.versions" && e.Message.Contains("overlap", StringComparison.Ordinal));
    }

    [Fact]
    public void A_contract_overriding_a_sku_the_list_does_not_price_is_rejected()
    {
        var errors = Errors("""
            {"id":"c","account":"acct-9","parent":"edge-list","versions":[{"version":"c1","effective_from":"2026-11-01T00:00:00Z",
              "prices":{"made.up.sku":{"model":"per_unit","unit_price":1}}}]}
            """, List());
        Assert.Contains(errors, e => e.Path == "$.versions[0].prices[\"made.up.sku\"]" && e.Message.Contains("does not price", StringComparison.Ordinal));
    }

    [Fact]
    public void Resolution_prefers_the_accounts_contract_then_the_list_version_effective_at_the_instant()
    {
        var list = List();
        var contract = PriceBookLoader.LoadFile(Path.Combine(Examples, "contract-acct-1.json"), list);
        var catalog = new PriceCatalog(list, [contract]);
        var nov = DateTimeOffset.Parse("2026-11-10T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var oct = DateTimeOffset.Parse("2026-10-10T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal("acct-1-enterprise", catalog.Resolve("acct-1", "cdn.egress.bytes", nov).Book!.Id); // contract override
        Assert.Equal("edge-list", catalog.Resolve("acct-1", "cdn.requests", nov).Book!.Id); // not overridden: list
        Assert.Equal("2026-10", catalog.Resolve("acct-1", "cdn.egress.bytes", oct).Version!.Version); // contract not yet effective
        Assert.Equal("2026-11", catalog.Resolve("acct-2", "cdn.egress.bytes", nov).Version!.Version);
        Assert.Equal("unknown_sku", catalog.Resolve("acct-2", "workers.cpu.ms", oct).UnpricedReason); // priced only from 2026-11
        Assert.Equal("no_version_effective", catalog.Resolve("acct-2", "cdn.requests", oct.AddYears(-1)).UnpricedReason);
        Assert.Equal("unknown_account", new PriceCatalog(null, [contract]).Resolve("acct-2", "cdn.requests", nov).UnpricedReason);
    }

    [Fact]
    public void Version_hashes_are_stable_and_change_with_any_price()
    {
        var json = File.ReadAllText(Path.Combine(Examples, "list.json"));
        var a = PriceBookLoader.Load(PriceBookLoader.Utf8(json), "a").Versions[1].Hash;
        var b = PriceBookLoader.Load(PriceBookLoader.Utf8(json.Replace("\n", "\n  ", StringComparison.Ordinal)), "b").Versions[1].Hash;
        var c = PriceBookLoader.Load(PriceBookLoader.Utf8(json.Replace("\"0.0000004\"", "\"0.0000005\"", StringComparison.Ordinal)), "c").Versions[1].Hash;
        Assert.StartsWith("sha256:", a, StringComparison.Ordinal);
        Assert.Equal(a, b); // whitespace does not matter
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void A_version_hash_covers_its_prices_and_start_but_not_its_end()
    {
        // list.json's 2026-10 version ends where 2026-11 starts; the same version left open must keep its hash, so the
        // lineage of the lines it rated stays valid when a later version supersedes it.
        var json = File.ReadAllText(Path.Combine(Examples, "list.json"));
        var ended = PriceBookLoader.Load(PriceBookLoader.Utf8(json), "ended").Versions[0];
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        var versions = node["versions"]!.AsArray();
        ((System.Text.Json.Nodes.JsonObject)versions[0]!).Remove("effective_to");
        versions.RemoveAt(1);
        var open = PriceBookLoader.Load(PriceBookLoader.Utf8(node.ToJsonString()), "open").Versions[0];
        versions[0]!["effective_from"] = "2026-09-01T00:00:00Z";
        var moved = PriceBookLoader.Load(PriceBookLoader.Utf8(node.ToJsonString()), "moved").Versions[0];

        Assert.Equal("2026-10", ended.Version);
        Assert.NotNull(ended.EffectiveTo);
        Assert.Null(open.EffectiveTo);
        Assert.Equal(ended.Hash, open.Hash);
        Assert.NotEqual(open.Hash, moved.Hash);
    }

    [Fact]
    public async Task Validate_command_exits_0_for_the_examples_and_1_for_a_broken_book()
    {
        Assert.Equal(0, await Program.RunAsync(["pricebook", "validate", Path.Combine(Examples, "list.json"), "--contracts", Path.Combine(Examples, "contract-acct-1.json")], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        var broken = Path.GetTempFileName();
        await File.WriteAllTextAsync(broken, Header + """{"model":"per_unit","unit_price":-1}}}]}""");
        Assert.Equal(1, await Program.RunAsync(["pricebook", "validate", broken], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        File.Delete(broken);
    }

    [Fact]
    public async Task Rate_command_prices_windows_incrementally_and_flags_unknown_skus_and_metered_skus_as_unpriced()
    {
        var dir = Directory.CreateTempSubdirectory("metering-rate-").FullName;
        var usage = Path.Combine(dir, "usage.ndjson");
        var output = Path.Combine(dir, "items.ndjson");
        await File.WriteAllLinesAsync(usage,
        [
            """{"account":"acct-2","sku":"cdn.egress.bytes","quantity":"5000000000000","period_start":"2026-11-01T00:00:00Z"}""",
            """{"account":"acct-2","sku":"cdn.egress.bytes","quantity":20000000000000,"period_start":"2026-11-01T00:00:00Z"}""",
            """{"account":"acct-2","sku":"nope","quantity":"1","period_start":"2026-11-01T00:00:00Z"}""",
            """{"account":"acct-2","sku":"gpu.peak","quantity":"9","period_start":"2026-11-01T00:00:00Z"}""",
        ]);
        var code = await Program.RunAsync(["rate", "--pricebook", Path.Combine(Examples, "list.json"), "--usage", usage, "--output", output], TextWriter.Null, TextWriter.Null, CancellationToken.None);
        var lines = (await File.ReadAllLinesAsync(output)).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Directory.Delete(dir, true);

        Assert.Equal(1, code); // lines unpriced
        // 5000 GB - 100 included = 4900 x 0.08 = 392.00; then 24,900 GB: 10,000 x 0.08 + 14,900 x 0.06 = 1694.00, so +1302.00.
        Assert.Equal("392.00", lines[0].GetProperty("amount").GetString());
        Assert.Equal("1302.00", lines[1].GetProperty("amount").GetString());
        Assert.Equal("1694.00", lines[1].GetProperty("period_amount").GetString());
        Assert.Equal(2, lines[1].GetProperty("tiers").GetArrayLength());
        Assert.StartsWith("sha256:", lines[1].GetProperty("version_hash").GetString(), StringComparison.Ordinal);
        Assert.True(lines[2].GetProperty("unpriced").GetBoolean());
        Assert.Equal("unknown_sku", lines[2].GetProperty("reason").GetString());
        // A max is not a function of a usage line's sum: unpriced with its reason, never priced as a sum.
        Assert.True(lines[3].GetProperty("unpriced").GetBoolean());
        Assert.Equal("meter_not_rated_from_usage_lines", lines[3].GetProperty("reason").GetString());
    }
}
