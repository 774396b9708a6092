using Metering.Rating.PriceBooks;

namespace Metering.UnitTests.Rating;

/// <summary>The traps a price book can set that parse but bill wrongly or not at all (issue 15): each is an error with its JSON path.</summary>
public class PriceBookValidationTests
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");

    private static PriceBook List() => PriceBookLoader.LoadFile(Path.Combine(Examples, "list.json"));

    private static IReadOnlyList<PriceBookError> Errors(string json, PriceBook? parent = null) =>
        PriceBookLoader.Validate(PriceBookLoader.Utf8(json), parent).Errors;

    private const string Header = """{"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{"s":""";

    [Theory]
    [InlineData("""
        {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{
          "s":{"model":"per_unit","unit_price":"1","unit_price":"2"}}}]}
        """, "$.versions[0].prices[\"s\"].unit_price", "unit_price", 2, 27)]
    [InlineData("""
        {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{
          "s":{"model":"per_unit","unit_price":"1"},
          "s":{"model":"per_unit","unit_price":"2"}}}]}
        """, "$.versions[0].prices[\"s\"]", "s", 2, 3)]
    [InlineData("""
        {"id":"b","currency":"USD","currency":"EUR","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{}}]}
        """, "$.currency", "currency", 1, 11)]
    [InlineData("""
        {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{
          "s":{"model":"graduated","tiers":[{"up_to":5,"unit_price":1},
                                            {"up_to":10,"unit_price":2,"up_to":20},{"up_to":null,"unit_price":3}]}}}]}
        """, "$.versions[0].prices[\"s\"].tiers[1].up_to", "up_to", 3, 38)]
    public void A_repeated_key_is_an_error_at_the_path_of_its_second_occurrence(string json, string path, string key, int line, int column)
    {
        var error = Assert.Single(Errors(json), e => e.Message.StartsWith("duplicate key", StringComparison.Ordinal));
        Assert.Equal(path, error.Path);
        Assert.Equal($"duplicate key \"{key}\": the same object already has it at line {line}, column {column}, and a JSON reader keeps only one of the two, silently; remove one", error.Message);
    }

    [Fact]
    public void A_gap_between_list_versions_over_a_period_start_names_the_gap_and_the_unpriced_period()
    {
        // Listed out of order: the path is the earlier version's own index in the file.
        const string Versions = """
            "versions":[
              {"version":"dec","effective_from":"2026-12-01T00:00:00Z","prices":{}},
              {"version":"oct","effective_from":"2026-10-01T00:00:00Z","effective_to":"2026-11-01T00:00:00Z","prices":{}}]}
            """;

        var error = Assert.Single(Errors("""{"id":"b","currency":"USD",""" + Versions));
        Assert.Equal("$.versions[1].effective_to", error.Path);
        Assert.Equal("leaves a gap: no version is effective from 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z (between 'oct' and 'dec'), so usage in it is unpriced, " +
            "and so is all the usage of the billing period starting 2026-11-01T00:00:00Z (a period is rated at its start); end 'oct' where 'dec' starts or add a version for the gap", error.Message);

        // Closing the gap validates; in a contract's gap its account is priced by the list book (the resolution rule), nothing goes unpriced.
        Assert.Empty(Errors("""{"id":"b","currency":"USD",""" + Versions.Replace("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", StringComparison.Ordinal)));
        Assert.Empty(Errors("""{"id":"c","account":"acct-9","parent":"edge-list",""" + Versions, List()));
    }

    [Fact]
    public void A_gap_inside_one_list_period_is_refused_too_because_accounts_anchor_their_periods_anywhere()
    {
        var errors = Errors("""
            {"id":"b","currency":"USD","versions":[
              {"version":"a","effective_from":"2026-11-01T00:00:00Z","effective_to":"2026-11-10T00:00:00Z","prices":{}},
              {"version":"b","effective_from":"2026-11-20T00:00:00Z","prices":{}}]}
            """);

        var error = Assert.Single(errors);
        Assert.Equal("$.versions[0].effective_to", error.Path);
        Assert.Equal("leaves a gap: no version is effective from 2026-11-10T00:00:00Z to 2026-11-20T00:00:00Z (between 'a' and 'b'), so usage in it is unpriced; " +
            "end 'a' where 'b' starts or add a version for the gap", error.Message);
    }

    [Fact]
    public void A_contract_billing_period_is_refused_and_says_where_periods_are_set()
    {
        var errors = Errors("""
            {"id":"c","account":"acct-9","parent":"edge-list","billing_period":{"type":"monthly","anchor_day":15},
             "versions":[{"version":"c1","effective_from":"2026-11-01T00:00:00Z","prices":{}}]}
            """, List());

        var error = Assert.Single(errors);
        Assert.Equal("$.billing_period", error.Path);
        Assert.Equal("a contract book cannot set billing periods (nothing would honour it): periods follow the account's terms (anchor_day, time_zone: " +
            "PUT /v1/accounts/{account} or metering account set, docs/api.md#accounts) and otherwise the list book's billing_period; remove it", error.Message);
    }

    // Each price carries every field its model has (so the fields the parser reads are all accepted) plus one it does not.
    [Theory]
    [InlineData("""{"model":"graduated","unit":"GB","included_units":"1","description":"","convert":{"divide_by":"1000"},"flat_fee_at_zero":false,"unit_price":"1","tiers":[{"up_to":5,"unit_price":1,"flat_fee":1},{"up_to":null,"unit_price":0.5}]}""",
        "unit_price", "graduated", "model, unit, included_units, description, group_by, convert, flat_fee_at_zero, tiers")]
    [InlineData("""{"model":"volume","package_size":10,"tiers":[{"up_to":null,"unit_price":1}],"convert":{"divide_by":"1000"}}""", "package_size", "volume", "model, unit, included_units, description, group_by, convert, flat_fee_at_zero, tiers")]
    [InlineData("""{"model":"per_unit","unit":"GB","unit_price":1,"included_units":"10","convert":{"divide_by":"1000000000","round":"up"},"description":"egress","package_price":2}""",
        "package_price", "per_unit", "model, unit, included_units, description, group_by, convert, unit_price")]
    [InlineData("""{"model":"per_unit","unit_price":1,"fixed_fee":"0.30"}""", "fixed_fee", "per_unit", "model, unit, included_units, description, group_by, convert, unit_price")]
    [InlineData("""{"model":"package","package_size":10,"package_price":2,"package_rounding":"down","included_units":"5","unit_price":1}""",
        "unit_price", "package", "model, unit, included_units, description, group_by, convert, package_size, package_price, package_rounding")]
    [InlineData("""{"model":"percentage","unit":"USD","rate":"2.9","fixed_fee":"0.30","per_transaction_min":"0.50","per_transaction_max":"25.00","free_transactions":"3","free_amount":"1.00","package_rounding":"up"}""",
        "package_rounding", "percentage", "model, unit, included_units, description, group_by, convert, rate, per_transaction_min, per_transaction_max, fixed_fee, free_transactions, free_amount")]
    public void A_field_the_chosen_model_does_not_read_is_an_error_at_its_path(string price, string field, string model, string fields)
    {
        var error = Assert.Single(Errors(Header + price + "}}]}"));
        Assert.Equal($"$.versions[0].prices[\"s\"].{field}", error.Path);
        Assert.Equal($"does not belong to a {model} price, which would ignore it (a {model} price has: {fields})", error.Message);

        var without = System.Text.Json.Nodes.JsonNode.Parse(price)!.AsObject();
        without.Remove(field);
        Assert.Empty(Errors(Header + without.ToJsonString() + "}}]}"));
    }

    [Fact]
    public void Tiers_and_a_package_size_on_a_per_unit_price_are_one_error_each()
    {
        var errors = Errors(Header + """{"model":"per_unit","unit_price":1,"tiers":[{"up_to":null,"unit_price":1}],"package_size":5}}}]}""");

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Path == "$.versions[0].prices[\"s\"].tiers" && e.Message == "only graduated and volume prices have tiers, not per_unit");
        Assert.Contains(errors, e => e.Path == "$.versions[0].prices[\"s\"].package_size" && e.Message.StartsWith("does not belong to a per_unit price", StringComparison.Ordinal));
    }

    [Fact]
    public void A_list_book_given_as_a_contract_is_an_error_saying_so()
    {
        var errors = Errors(File.ReadAllText(Path.Combine(Examples, "list.json")), List());

        var error = Assert.Single(errors);
        Assert.Equal("$", error.Path);
        Assert.Equal("is a list book (no account, no parent) where a contract book is expected: a contract names its account and its list book ('edge-list') in 'account' and 'parent'; " +
            "give a list book as the list book (CLI: the FILE argument, not --contracts)", error.Message);
    }

    [Fact]
    public void A_contract_given_as_the_list_book_is_an_error_saying_so()
    {
        var errors = Errors(File.ReadAllText(Path.Combine(Examples, "contract-acct-1.json")));

        var error = Assert.Single(errors);
        Assert.Equal("$.account", error.Path);
        Assert.Equal("is a contract book (account 'acct-1') where a list book is expected: a contract is checked and rated on top of its list book ('edge-list'); " +
            "give that as the list book and this one as a contract (CLI: --contracts FILE)", error.Message);
    }

    [Fact]
    public void Loading_a_list_book_as_a_contract_throws_with_the_same_problem()
    {
        var e = Assert.Throws<PriceBookException>(() => PriceBookLoader.LoadFile(Path.Combine(Examples, "list.json"), List()));
        Assert.Contains("$: is a list book (no account, no parent) where a contract book is expected", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trailing_comma_in_an_object_names_its_line_and_column_and_says_remove_it()
    {
        var error = Assert.Single(Errors("""
            {"id":"b",
             "currency":"USD",
            }
            """));
        Assert.Equal("$", error.Path);
        Assert.Equal("not valid JSON: trailing comma at line 2, column 18 before '}': remove the trailing comma (JSON allows none after the last member or element)", error.Message);
    }

    [Fact]
    public void A_trailing_comma_in_an_array_names_its_line_and_column_and_says_remove_it()
    {
        var error = Assert.Single(Errors("""
            {"id":"b","currency":"USD","versions":[
              {"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{}},
            ]}
            """));
        Assert.Equal("$", error.Path);
        Assert.Equal("not valid JSON: trailing comma at line 2, column 71 before ']': remove the trailing comma (JSON allows none after the last member or element)", error.Message);
    }

    [Fact]
    public void Another_syntax_error_names_its_line_and_column_once()
    {
        var error = Assert.Single(Errors("{\"id\":\"b\"\n \"currency\":\"USD\"}"));
        Assert.Equal("$", error.Path);
        Assert.StartsWith("not valid JSON at line 2, column 2: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("trailing comma", error.Message, StringComparison.Ordinal);
    }
}
