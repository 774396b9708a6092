namespace Metering.Tests.Cli;

/// <summary>
/// <c>metering pricebook validate</c> as a user runs it (the real executable): a book with a trap exits 1 and names the
/// file and the JSON path of the problem on stderr.
/// </summary>
public sealed class PriceBookValidateCliTests : IDisposable
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");

    private readonly string _dir = Directory.CreateTempSubdirectory("metering-validate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int Code, string Stdout, string Stderr)> Validate(string json, params string[] more)
    {
        var path = Path.Combine(_dir, "book.json");
        await File.WriteAllTextAsync(path, json);
        return await MeteringProcess.RunAsync(_dir, null, ["pricebook", "validate", path, .. more]);
    }

    [Fact]
    public async Task A_repeated_key_exits_1_with_the_path_of_the_second_key_on_stderr()
    {
        var (code, _, stderr) = await Validate("""
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{
              "s":{"model":"per_unit","unit_price":"1","unit_price":"2"}}}]}
            """);

        Assert.Equal(1, code);
        Assert.Contains("book.json: $.versions[0].prices[\"s\"].unit_price: duplicate key \"unit_price\": the same object already has it at line 2, column 27", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gap_between_versions_exits_1_naming_the_gap_on_stderr()
    {
        var (code, _, stderr) = await Validate("""
            {"id":"b","currency":"USD","versions":[
              {"version":"oct","effective_from":"2026-10-01T00:00:00Z","effective_to":"2026-11-01T00:00:00Z","prices":{}},
              {"version":"dec","effective_from":"2026-12-01T00:00:00Z","prices":{}}]}
            """);

        Assert.Equal(1, code);
        Assert.Contains("book.json: $.versions[0].effective_to: leaves a gap: no version is effective from 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z (between 'oct' and 'dec')", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_list_book_given_as_a_contract_exits_1_saying_so_on_stderr()
    {
        var list = Path.Combine(Examples, "list.json");
        var (code, stdout, stderr) = await MeteringProcess.RunAsync(_dir, null, "pricebook", "validate", list, "--contracts", list);

        Assert.Equal(1, code);
        Assert.Contains($"{list}: OK: 'edge-list'", stdout, StringComparison.Ordinal); // the list itself is fine
        Assert.Contains($"{list}: $: is a list book (no account, no parent) where a contract book is expected", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_currency_options_exit_1_with_each_path_on_stderr_and_the_multi_currency_example_is_ok()
    {
        var (code, _, stderr) = await Validate("""
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{
              "a":{"model":"per_unit","unit_price":"1","currency_options":{"EURO":{"unit_price":"1"},"USD":{"unit_price":"1"}}},
              "b":{"model":"graduated","tiers":[{"up_to":null,"unit_price":"1"}],"currency_options":{"EUR":{"model":"volume","tiers":[{"up_to":null,"unit_price":"1"}]}}},
              "c":{"model":"package","package_size":"10","package_price":"1","currency_options":{"JPY":{"package_price":"0.5"},"EUR":{"package_price":"1"},"EUR":{"package_price":"2"}}}},
              "fees":[{"id":"platform","amount":"20.00"}]}]}
            """);

        Assert.Equal(1, code);
        foreach (var expected in (string[])[
            "book.json: $.versions[0].prices[\"a\"].currency_options.EURO: 'EURO' is not a known ISO 4217 currency code",
            "book.json: $.versions[0].prices[\"a\"].currency_options.USD: is the book's own currency",
            "book.json: $.versions[0].prices[\"b\"].currency_options.EUR.model: 'volume' is not the price's model 'graduated'",
            "book.json: $.versions[0].prices[\"c\"].currency_options.JPY.package_price: 0.5 has more fractional digits than JPY's 0 minor unit(s)",
            "book.json: $.versions[0].prices[\"c\"].currency_options.EUR: duplicate key \"EUR\"",
            "book.json: $.versions[0].fees[0].currency_options: has no amount in EUR, but the version prices in USD, EUR",
        ])
        {
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
        }

        var example = Path.Combine(Examples, "multi-currency.json");
        var (ok, stdout, _) = await MeteringProcess.RunAsync(_dir, null, "pricebook", "validate", example);
        Assert.Equal(0, ok);
        Assert.Contains($"{example}: OK: 'global-list' (USD)", stdout, StringComparison.Ordinal);
    }
}
