using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;

// Not Metering.UnitTests.Currency: a namespace of that name would hide the Currency type from every test namespace.
namespace Metering.UnitTests.Currencies;

/// <summary>
/// <c>metering rate --accounts FILE</c>: an offline rating prices each account in its billing currency, as the engine
/// does (examples/pricebooks/multi-currency.json: USD, EUR and JPY; egress has no JPY price). Runs the command in
/// process on temporary files.
/// </summary>
public sealed class RateAccountsTests : IDisposable
{
    private static readonly string Book = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "multi-currency.json");

    private readonly string _dir = Directory.CreateTempSubdirectory("rate-accounts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FileOf(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    // 10,000,000 requests and 8 GB of egress in November for each account.
    private string Usage(params string[] accounts) => FileOf("usage.ndjson", string.Concat(accounts.Select(a =>
        $"{{\"account\":\"{a}\",\"sku\":\"cdn.requests\",\"quantity\":\"10000000\",\"period_start\":\"2026-11-01T00:00:00Z\"}}\n" +
        $"{{\"account\":\"{a}\",\"sku\":\"cdn.egress.bytes\",\"quantity\":\"8000000000\",\"period_start\":\"2026-11-01T00:00:00Z\"}}\n")));

    private async Task<(int Exit, List<JsonElement> Lines)> RateAsync(string? accounts, string usage, bool periodLines = true)
    {
        var output = Path.Combine(_dir, "out.ndjson");
        var args = new List<string> { "--pricebook", Book, "--usage", usage, "--output", output };
        if (accounts is not null)
        {
            args.AddRange(["--accounts", accounts]);
        }

        if (periodLines)
        {
            args.Add("--period-lines");
        }

        var exit = await new RateCommand().RunAsync(CliArguments.Parse(args, _ => null), CancellationToken.None);
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        return (exit, lines);
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetString() : null;

    [Fact]
    public async Task Each_account_is_priced_in_its_currency_and_a_sku_without_a_price_in_it_is_flagged_currency_not_priced()
    {
        var accounts = FileOf("accounts.ndjson", """
            {"account":"acct-eur","currency":"EUR","list_book":"global-list","contract_book":null,"start":"2026-11-01T00:00:00+00:00","end":null,"anchor_day":null,"time_zone":null}
            {"account":"acct-jpy","currency":"JPY"}
            """);
        var (exit, lines) = await RateAsync(accounts, Usage("acct-eur", "acct-usd", "acct-jpy"));

        // The JPY egress is unpriced: exit 1, as for any unpriced line.
        Assert.Equal(1, exit);
        var usage = lines.Where(l => l.TryGetProperty("line", out _)).Select(l => (Text(l, "account"), Text(l, "sku"), Text(l, "amount"), Text(l, "currency"), Text(l, "reason"))).ToList();
        Assert.Equal(
        [
            ("acct-eur", "cdn.requests", "3.70", "EUR", null),       // 10^7 x 0.00000037
            ("acct-eur", "cdn.egress.bytes", "0.60", "EUR", null),   // 8 GB x 0.075
            ("acct-usd", "cdn.requests", "4.00", "USD", null),       // not in the file: the book's currency
            ("acct-usd", "cdn.egress.bytes", "0.64", "USD", null),
            ("acct-jpy", "cdn.requests", "600", "JPY", null),        // 10^7 x 0.00006, JPY has no minor digits
            ("acct-jpy", "cdn.egress.bytes", null, null, "currency_not_priced"),
        ], usage);
        Assert.Contains("no JPY price", Text(lines[5], "detail"), StringComparison.Ordinal);

        // Fees and the commitment in each account's currency: EUR 18.00 + (23.00 - 4.30); USD 20.00 + (25.00 - 4.64); JPY 3,000 + (3,800 - 600).
        var period = lines.Where(l => !l.TryGetProperty("line", out _)).Select(l => (Text(l, "account"), Text(l, "type"), Text(l, "amount"), Text(l, "currency"))).ToList();
        Assert.Equal(
        [
            ("acct-eur", "fee", "18.00", "EUR"), ("acct-eur", "commitment_true_up", "18.70", "EUR"),
            ("acct-jpy", "fee", "3000", "JPY"), ("acct-jpy", "commitment_true_up", "3200", "JPY"),
            ("acct-usd", "fee", "20.00", "USD"), ("acct-usd", "commitment_true_up", "20.36", "USD"),
        ], period);
    }

    [Fact]
    public async Task A_json_array_and_a_get_accounts_page_are_read_like_ndjson()
    {
        var array = FileOf("array.json", """[ {"account":"acct-eur","currency":"EUR"} ]""");
        var page = FileOf("page.json", """{"accounts":[{"account":"acct-eur","currency":"EUR","created_at":"2026-11-01T00:00:00+00:00","updated_at":"2026-11-01T00:00:00+00:00"}],"next_cursor":null}""");
        foreach (var file in new[] { array, page })
        {
            var (exit, lines) = await RateAsync(file, Usage("acct-eur"), periodLines: false);
            Assert.Equal(0, exit);
            Assert.Equal([("3.70", "EUR"), ("0.60", "EUR")], lines.Select(l => (Text(l, "amount"), Text(l, "currency"))));
        }
    }

    [Theory]
    [InlineData("""{"account":"a","currency":"USD"}""" + "\n" + """{"account":"b","currency":"EURO"}""", "line 2: currency: 'EURO' is not a known ISO 4217 currency code")]
    [InlineData("""[{"account":"a","currency":"USD"},{"account":"a","currency":"EUR"}]""", "$[1]: account: 'a' is given twice")]
    [InlineData("""{"account":"a"}""", "line 1: currency: is required")]
    [InlineData("""{"account":"a","currency":"EUR","anchor_day":15}""", "line 1: anchor_day: the account has billing periods of its own")]
    [InlineData("""{"account":"a","currency":"EUR","list_book":"edge-list"}""", "line 1: list_book: 'edge-list' is not the list book being rated ('global-list')")]
    [InlineData("""{"account":"a","currency":"EUR","curency":"USD"}""", "line 1: curency: unknown field")]
    [InlineData("""{"accounts":[{"account":"a","currency":"usd"}]}""", "$.accounts[0]: currency: 'usd' is not a known ISO 4217 currency code")]
    public async Task A_bad_accounts_file_is_a_usage_error_naming_where_and_which_field(string text, string expected)
    {
        var file = FileOf("bad.json", text);
        var refused = await Assert.ThrowsAsync<CliUsageException>(() => RateAsync(file, Usage("a")));
        Assert.Contains($"--accounts {file}: {expected}", refused.Message, StringComparison.Ordinal);
    }
}
