using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PeriodTotals;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;

namespace Metering.UnitTests.Rating.Currencies;

/// <summary>
/// Multi-currency price books (issue 15): a price, a fee and a commitment priced in several currencies
/// (<c>currency_options</c>); the account's billing currency selects; a SKU without a price in it is unpriced, never
/// converted. Every amount is computed by hand in the comments.
/// </summary>
public sealed class CurrencyOptionsTests
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly HashSet<DateTimeOffset> NoneClosed = [];

    /// <summary>
    /// USD book with EUR options: requests 0.01 USD / 0.009 EUR (and 1 JPY); egress graduated 0.08 up to 1,000 GB then
    /// 0.06 in USD, 0.07 then 0.05 (+2.00 flat in the second tier) in EUR; cpu 1.00 per unit in USD only. Fee platform
    /// 20.00 USD / 18.00 EUR / 2,000 JPY; commitment 500.00 USD / 450.00 EUR / 50,000 JPY.
    /// </summary>
    private const string BookJson = """
        {
          "id": "multi", "currency": "USD",
          "versions": [ { "version": "nov", "effective_from": "2026-11-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.01",
                "currency_options": { "EUR": { "unit_price": "0.009" }, "JPY": { "model": "per_unit", "unit_price": "1" } } },
              "egress": { "model": "graduated", "unit": "GB",
                "tiers": [ { "up_to": "1000", "unit_price": "0.08" }, { "up_to": null, "unit_price": "0.06" } ],
                "currency_options": { "EUR": { "tiers": [ { "up_to": "1000", "unit_price": "0.07" }, { "up_to": null, "unit_price": "0.05", "flat_fee": "2.00" } ] } } },
              "cpu": { "model": "per_unit", "unit": "core", "unit_price": "1.00" }
            },
            "fees": [ { "id": "platform", "amount": "20.00", "currency_options": { "EUR": { "amount": "18.00" }, "JPY": { "amount": "2000" } } } ],
            "minimum_commitment": "500.00",
            "currency_options": { "EUR": { "minimum_commitment": "450.00" }, "JPY": { "minimum_commitment": "50000" } } } ]
        }
        """;

    private static PriceBook Book(string json = BookJson) => PriceBookLoader.Load(PriceBookLoader.Utf8(json), "multi.json");

    private static IReadOnlyList<PriceBookError> Errors(string json) => PriceBookLoader.Validate(PriceBookLoader.Utf8(json)).Errors;

    private static PriceCatalog Catalog() =>
        new PriceCatalog(Book(), []).WithAccountCurrencies(new Dictionary<string, Currency> { ["acct-eur"] = Currency.Get("EUR"), ["acct-gbp"] = Currency.Get("GBP") });

    [Fact]
    public void The_account_currency_selects_the_option_and_an_account_without_one_is_rated_by_the_book_price()
    {
        var catalog = Catalog();
        var eur = catalog.Resolve("acct-eur", "requests", November);
        var usd = catalog.Resolve("acct-usd", "requests", November);
        Assert.Equal(("EUR", 0.009m * 15_000), (eur.Currency!.Code, eur.Price!.Amount(15_000m, 1)));
        Assert.Equal(("USD", 150.00m), (usd.Currency!.Code, usd.Price!.Amount(15_000m, 1)));
        Assert.Same(usd.Version, eur.Version); // one version, one hash, two currencies

        // GBP is offered nowhere; EUR is not offered for cpu: unpriced with the reason, and the detail says what is offered.
        var gbp = catalog.Resolve("acct-gbp", "requests", November);
        Assert.Equal((false, PriceResolution.CurrencyNotPriced), (gbp.IsPriced, gbp.UnpricedReason));
        Assert.Equal("SKU 'requests' has no GBP price in 'multi' version 'nov' (priced in USD, EUR, JPY), and the account is billed in GBP: usage is never converted", gbp.Detail);
        var cpu = catalog.Resolve("acct-eur", "cpu", November);
        Assert.Equal((PriceResolution.CurrencyNotPriced, "multi", "nov"), (cpu.UnpricedReason, cpu.Book!.Id, cpu.Version!.Version));
        Assert.Equal("unknown_sku", catalog.Resolve("acct-eur", "nothing", November).UnpricedReason);
    }

    [Fact]
    public void A_contract_overriding_a_sku_without_an_option_in_the_account_currency_leaves_it_unpriced_rather_than_at_the_list_price()
    {
        var list = Book();
        var contract = PriceBookLoader.Load(PriceBookLoader.Utf8("""
            {"id":"acct-eur-contract","account":"acct-eur","parent":"multi","versions":[{"version":"c1","effective_from":"2026-11-01T00:00:00Z",
              "prices":{"requests":{"model":"per_unit","unit_price":"0.005"},
                        "egress":{"model":"per_unit","unit_price":"0.04","currency_options":{"EUR":{"unit_price":"0.03"}}}}}]}
            """), "contract.json", list);
        var catalog = new PriceCatalog(list, [contract]).WithAccountCurrency("acct-eur", Currency.Get("EUR"));

        var requests = catalog.Resolve("acct-eur", "requests", November);
        Assert.Equal((PriceResolution.CurrencyNotPriced, "acct-eur-contract"), (requests.UnpricedReason, requests.Book!.Id));
        var egress = catalog.Resolve("acct-eur", "egress", November);
        Assert.Equal(("acct-eur-contract", "EUR", 3.00m), (egress.Book!.Id, egress.Currency!.Code, egress.Price!.Amount(100m, 1)));

        // Back in the book's currency (no currency for the account): the contract's own prices.
        var usd = catalog.WithAccountCurrency("acct-eur", null).Resolve("acct-eur", "requests", November);
        Assert.Equal(("USD", 0.50m), (usd.Currency!.Code, usd.Price!.Amount(100m, 1)));
    }

    [Fact]
    public void The_rater_charges_each_account_of_one_book_in_its_own_currency_and_leaves_an_unpriced_currency_at_zero()
    {
        var rater = new PeriodTotalsRater(Catalog());
        UsageWindow[] windows =
        [
            new("acct-eur", "egress", November.AddHours(1), November.AddHours(1).AddMinutes(1), 600m, 1),
            new("acct-eur", "egress", November.AddHours(2), November.AddHours(2).AddMinutes(1), 900m, 1),
            new("acct-usd", "egress", November.AddHours(1), November.AddHours(1).AddMinutes(1), 1_500m, 1),
            new("acct-eur", "cpu", November.AddHours(1), November.AddHours(1).AddMinutes(1), 5m, 1),
        ];

        var result = rater.Rate(rater.Plan(windows, NoneClosed), new Dictionary<PeriodTotalKey, StoredPeriodTotal>(), new Dictionary<PeriodTotalKey, BookedAdjustments>());
        var totals = result.Totals.ToDictionary(t => (t.Key.Account, t.Key.Sku));

        // EUR: 600 x 0.07 = 42.00, then 1,500 GB = 1,000 x 0.07 + 500 x 0.05 + 2.00 = 97.00, the window 55.00.
        // USD: 1,000 x 0.08 + 500 x 0.06 = 110.00. cpu has no EUR price: metered, 0, unpriced.
        Assert.Equal([(0, 42.00m, "EUR"), (1, 55.00m, "EUR")], result.Windows.Where(w => w.Window < 2).OrderBy(w => w.Window).Select(w => (w.Window, w.Amount, w.Currency)));
        Assert.Equal((1_500m, 97.00m, "EUR", "multi"), (totals[("acct-eur", "egress")].QuantityAfter, totals[("acct-eur", "egress")].AmountAfter, totals[("acct-eur", "egress")].Currency, totals[("acct-eur", "egress")].PriceBook));
        Assert.Equal((110.00m, "USD"), (totals[("acct-usd", "egress")].AmountAfter, totals[("acct-usd", "egress")].Currency));
        Assert.Equal(totals[("acct-eur", "egress")].PriceBookHash, totals[("acct-usd", "egress")].PriceBookHash);
        var cpu = totals[("acct-eur", "cpu")];
        Assert.Equal((5m, 0m, "unpriced"), (cpu.QuantityAfter, cpu.AmountAfter, cpu.PriceBook));
    }

    [Fact]
    public void A_statement_in_euro_carries_euro_usage_fee_and_commitment_lines_and_flags_a_sku_without_a_euro_price()
    {
        var period = new BillingPeriod(November, December);
        SkuUsage[] usage = [new("requests", 15_000m, 15_000), new("egress", 1_500m, 2), new("cpu", 5m, 5)];
        var eur = StatementBuilder.Build(new StatementInput("acct-eur", period, new StatementTerms(November, null, "EUR"), usage, [], new PriceCatalog(Book(), [])));

        // requests 15,000 x 0.009 = 135.00; egress 97.00 (as above); usage 232.00 EUR. Fee 18.00 EUR. Commitment 450.00 EUR:
        // true-up 450.00 - 232.00 = 218.00. Total 232.00 + 18.00 + 218.00 = 468.00 EUR. cpu: unpriced, no amount.
        Assert.Equal([("cpu", false, 0m, null), ("egress", true, 97.00m, "EUR"), ("requests", true, 135.00m, "EUR")],
            eur.Usage.Select(u => (u.Sku, u.Priced, u.Amount, u.Currency)));
        var cpu = eur.Usage.Single(u => u.Sku == "cpu");
        Assert.Equal((PriceResolution.CurrencyNotPriced, 5m, "multi", "nov"), (cpu.UnpricedReason, cpu.RecordedQuantity, cpu.PriceBook, cpu.PriceBookVersion));
        Assert.Equal([("platform", 18.00m, "EUR")], eur.Fees.Select(f => (f.FeeId, f.Amount, f.Currency)));
        Assert.Equal([(450.00m, 232.00m, 218.00m, "EUR")], eur.Commitments.Select(c => (c.Committed, c.UsageCharged, c.TrueUp, c.Currency)));
        Assert.Equal([new CurrencyTotal("EUR", 232.00m, 18.00m, 218.00m, 0m, 468.00m)], eur.Totals);

        // The same usage of a USD account on the same book: 150.00 + 110.00 + 5.00 = 265.00; fee 20.00; true-up 235.00: 520.00 USD.
        var usd = StatementBuilder.Build(new StatementInput("acct-usd", period, new StatementTerms(November, null, "USD"), usage, [], new PriceCatalog(Book(), [])));
        Assert.All(usd.Usage, u => Assert.Equal((true, "USD"), (u.Priced, u.Currency)));
        Assert.Equal([new CurrencyTotal("USD", 265.00m, 20.00m, 235.00m, 0m, 520.00m)], usd.Totals);

        // JPY, 0 minor units: 15,000 x 1 = 15,000 JPY; egress and cpu have no JPY price. Fee 2,000; true-up 50,000 - 15,000 = 35,000.
        var jpy = StatementBuilder.Build(new StatementInput("acct-jpy", period, new StatementTerms(November, null, "JPY"), usage, [], new PriceCatalog(Book(), [])));
        Assert.Equal([new CurrencyTotal("JPY", 15_000m, 2_000m, 35_000m, 0m, 52_000m)], jpy.Totals);
        Assert.Equal(2, jpy.Usage.Count(u => u.UnpricedReason == PriceResolution.CurrencyNotPriced));
    }

    [Fact]
    public void The_version_hash_covers_the_currency_options()
    {
        var hash = Book().Versions.Single().Hash;
        Assert.Equal(hash, Book().Versions.Single().Hash);
        Assert.NotEqual(hash, Book(BookJson.Replace("\"0.009\"", "\"0.0091\"", StringComparison.Ordinal)).Versions.Single().Hash);
        Assert.NotEqual(hash, Book(BookJson.Replace("\"18.00\"", "\"18.50\"", StringComparison.Ordinal)).Versions.Single().Hash);
        Assert.NotEqual(hash, Book(BookJson.Replace("\"450.00\"", "\"451.00\"", StringComparison.Ordinal)).Versions.Single().Hash);
    }

    private const string Price = """{"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{"s":""";
    private const string End = "}}]}";

    [Theory]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EURO":{"unit_price":"1"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EURO", "'EURO' is not a known ISO 4217 currency code (upper case, such as EUR)")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"eur":{"unit_price":"1"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.eur", "'eur' is not a known ISO 4217 currency code (upper case, such as EUR)")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"USD":{"unit_price":"2"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.USD", "is the book's own currency: the fields beside currency_options are the USD price; remove this option or change them")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"model":"volume","unit_price":"1"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.model", "'volume' is not the price's model 'per_unit': a currency option prices the same model in another currency (omit model, or give 'per_unit')")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"unit_price":"1","unit":"GB"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.unit", "is shared by every currency of the price: set it once on the price (a per_unit currency option has: model, unit_price)")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"unit_price":"1","tiers":[]}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.tiers", "does not belong to a per_unit currency option (it has: model, unit_price)")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.unit_price", "is required: the price has a unit_price in USD, and an amount is never carried into another currency")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"unit_price":"-1"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.unit_price", "must not be negative")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":null,"unit_price":"1"}],"currency_options":{"EUR":{"tiers":[{"up_to":"10","unit_price":"1"},{"up_to":"5","unit_price":"1"},{"up_to":null,"unit_price":"1"}]}}}""",
        "$.versions[0].prices[\"s\"].currency_options.EUR.tiers[1].up_to", "tiers must ascend: 5 is not above the previous bound 10")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":null,"unit_price":"1","flat_fee":"2"}],"currency_options":{"JPY":{"tiers":[{"up_to":null,"unit_price":"0.5","flat_fee":"1.5"}]}}}""",
        "$.versions[0].prices[\"s\"].currency_options.JPY.tiers[0].flat_fee", "1.5 has more fractional digits than JPY's 0 minor unit(s): an amount charged as written must be a whole number of JPY's minor units (unit prices may be finer)")]
    [InlineData("""{"model":"package","package_size":"10","package_price":"1","currency_options":{"KWD":{"package_price":"0.0005"}}}""",
        "$.versions[0].prices[\"s\"].currency_options.KWD.package_price", "0.0005 has more fractional digits than KWD's 3 minor unit(s): an amount charged as written must be a whole number of KWD's minor units (unit prices may be finer)")]
    [InlineData("""{"model":"per_unit","unit_price":"1","currency_options":["EUR"]}""",
        "$.versions[0].prices[\"s\"].currency_options", "must be an object of ISO 4217 currency code -> the price in that currency, such as {\"EUR\": {...}}")]
    public void A_bad_currency_option_is_an_error_at_its_path(string price, string path, string message)
    {
        var error = Assert.Single(Errors(Price + price + End));
        Assert.Equal((path, message), (error.Path, error.Message));
    }

    [Fact]
    public void A_currency_option_given_twice_is_a_duplicate_key_at_the_second()
    {
        var errors = Errors(Price + """{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"unit_price":"1"},"EUR":{"unit_price":"2"}}}""" + End);
        var error = Assert.Single(errors);
        Assert.Equal("$.versions[0].prices[\"s\"].currency_options.EUR", error.Path);
        Assert.StartsWith("duplicate key \"EUR\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_pricing_in_a_currency_must_charge_every_fee_and_its_commitment_in_it()
    {
        const string Version = """
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z",
              "prices":{"s":{"model":"per_unit","unit_price":"1","currency_options":{"EUR":{"unit_price":"0.9"}}}},
              "fees":[{"id":"platform","amount":"20.00"},{"id":"support","amount":"5","currency_options":{"EUR":{"amount":"4.50"}}}],
              "minimum_commitment":"100"}]}
            """;
        Assert.Equal([
            ("$.versions[0].fees[0].currency_options", "has no amount in EUR, but the version prices in USD, EUR: an account billed in EUR would pay no 'platform' fee; add \"EUR\": {\"amount\": ...}"),
            ("$.versions[0].currency_options", "has no minimum_commitment in EUR, but the version prices in USD, EUR: an account billed in EUR would have no commitment; add \"EUR\": {\"minimum_commitment\": ...}"),
        ], Errors(Version).Select(e => (e.Path, e.Message)));

        // A commitment only in another currency, a fee amount finer than the currency's, an unknown field in a fee option.
        var errors = Errors("""
            {"id":"b","currency":"USD","versions":[{"version":"v1","effective_from":"2026-01-01T00:00:00Z","prices":{},
              "fees":[{"id":"platform","amount":"20","currency_options":{"JPY":{"amount":"0.5"}}},{"id":"x","amount":"1","currency_options":{"EUR":{"amount":"1","prorate":true}}}],
              "currency_options":{"EUR":{"minimum_commitment":"90"}}}]}
            """).Select(e => (e.Path, e.Message)).ToList();
        Assert.Contains(("$.versions[0].fees[0].currency_options.JPY.amount", "0.5 has more fractional digits than JPY's 0 minor unit(s): an amount charged as written must be a whole number of JPY's minor units (unit prices may be finer)"), errors);
        Assert.Contains(("$.versions[0].fees[1].currency_options.EUR.prorate", "unknown field (allowed: amount)"), errors);
        Assert.Contains(("$.versions[0].minimum_commitment", "is required with a minimum_commitment in another currency (EUR): the book's own currency (USD) needs one too"), errors);

        // Complete, it loads; and the example book loads with the options of the test's worked examples.
        Assert.Empty(Errors(BookJson));
    }
}
