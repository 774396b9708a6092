using System.Text.Json;
using Metering.Cli;
using Metering.Rating.Incremental;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;
using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Rating;

/// <summary>
/// Worked examples of the peers' pricing rules (docs/pricebooks.md): the first tier's flat fee at zero quantity,
/// percentage prices with conversion, included units, free transactions and a free amount, and per-tier block sizes.
/// Every amount is computed by hand in the comment next to it.
/// </summary>
public sealed class PricingRulesTests
{
    private static readonly PriceTier[] FlatFirstTier = [new(5, 5.00m, 1.00m), new(10, 4.00m, 2.00m), new(null, 3.00m, 0m)];

    // Kill Bill's example: tier 1 has 5 blocks of 100 units at 1.00 each (up to 500), tier 2 blocks of 100 at 0.80.
    private static readonly PriceTier[] Blocks = [new(500, 1.00m, 0m, 100), new(null, 0.80m, 0m, 100)];

    private static PriceBook Book(string prices) => PriceBookLoader.Load(PriceBookLoader.Utf8(
        """{"id":"peers","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{""" + prices + "}}]}"), "peers.json");

    private static IReadOnlyList<PriceBookError> Errors(string price) => PriceBookLoader.Validate(PriceBookLoader.Utf8(
        """{"id":"peers","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{"s":""" + price + "}}]}")).Errors;

    private static SkuPrice Price(string sku, string json) => Book($"\"{sku}\":{json}").Versions[0].Prices[sku];

    private static decimal Fees(SkuPrice price, params decimal[] transactions)
    {
        decimal before = 0, total = 0;
        for (var i = 0; i < transactions.Length; i++)
        {
            total += price.TransactionFee(transactions[i], before, i);
            before += transactions[i];
        }

        return total;
    }

    private static UsageLine StatementLine(PriceBook book, SkuUsage usage) =>
        StatementBuilder.Build(new StatementInput("acct-1", NovemberPeriod, new StatementTerms(November), [usage], [], new PriceCatalog(book, []))).Usage.Single();

    // ---- 1. zero quantity and the first tier's flat fee ----

    [Fact]
    public void Graduated_and_volume_charge_the_first_tiers_flat_fee_at_zero_quantity_by_default()
    {
        Assert.Equal(1.00m, new SkuPrice("s", PricingModel.Graduated, "unit", tiers: FlatFirstTier).Amount(0));
        Assert.Equal(1.00m, new SkuPrice("s", PricingModel.Volume, "unit", tiers: FlatFirstTier).Amount(0));
        Assert.True(Price("s", """{"model":"graduated","tiers":[{"up_to":5,"unit_price":5,"flat_fee":1},{"up_to":null,"unit_price":3}]}""").FlatFeeAtZero);
    }

    [Fact]
    public void Flat_fee_at_zero_false_charges_nothing_for_zero_quantity_but_the_flat_fee_from_the_first_unit()
    {
        var graduated = Price("s", """{"model":"graduated","flat_fee_at_zero":false,"tiers":[{"up_to":5,"unit_price":5,"flat_fee":1},{"up_to":null,"unit_price":3}]}""");
        var volume = Price("s", """{"model":"volume","flat_fee_at_zero":false,"tiers":[{"up_to":5,"unit_price":5,"flat_fee":1},{"up_to":null,"unit_price":3}]}""");
        Assert.Equal((0m, 0m), (graduated.Amount(0), volume.Amount(0)));
        Assert.Equal((6.00m, 6.00m), (graduated.Amount(1), volume.Amount(1))); // 1 x 5 + 1
        Assert.Empty(graduated.TierBreakdown(0));
    }

    [Fact]
    public void Usage_entirely_inside_the_included_units_pays_the_first_tiers_flat_fee()
    {
        // 50 units of 100 included: billable 0, which lies in tier 1: its flat fee 10.00 is due; 101 units: 1 x 0.50 + 10.
        var price = new SkuPrice("s", PricingModel.Graduated, "unit", includedUnits: 100, tiers: [new PriceTier(1000, 0.50m, 10m), new PriceTier(null, 0.25m, 0m)]);
        Assert.Equal(10m, price.Amount(50));
        Assert.Equal(10.50m, price.Amount(101));
    }

    [Fact]
    public void Zero_quantity_breakdown_shows_the_first_tier_with_its_flat_fee_so_tiers_sum_to_the_amount()
    {
        var price = new SkuPrice("s", PricingModel.Graduated, "unit", tiers: FlatFirstTier);
        Assert.Equal([new TierCharge(1, 0m, 5m, 0m, 5.00m, 1.00m, 1.00m)], price.TierBreakdown(0));
        Assert.Empty(new SkuPrice("s", PricingModel.Graduated, "unit", tiers: [new PriceTier(5, 5m, 0m), new PriceTier(null, 3m, 0m)]).TierBreakdown(0));
    }

    [Fact]
    public void A_zero_window_charges_the_flat_fee_once_and_later_windows_telescope_to_the_period_price()
    {
        // windows 0, 1, 5: period totals 0 -> 1.00, 1 -> 6.00, 6 -> 26 + 1 x 4 + 2 = 32.00; charges 1.00, 5.00, 26.00.
        var price = new SkuPrice("s", PricingModel.Graduated, "unit", tiers: FlatFirstTier);
        var state = default(PeriodRatingState);
        var charges = new[] { 0m, 1m, 5m }.Select(q => WindowRater.RateWindow(price, ref state, q, 1, 2, RoundingMode.HalfUp)).ToArray();
        Assert.Equal([1.00m, 5.00m, 26.00m], charges);
        Assert.Equal(32.00m, state.Charged);
    }

    [Fact]
    public void A_statement_sku_with_a_zero_total_pays_the_first_tiers_flat_fee()
    {
        var book = Book("""
            "api":{"model":"volume","unit":"call","tiers":[{"up_to":1000,"unit_price":"0.01","flat_fee":"20.00"},{"up_to":null,"unit_price":"0.005","flat_fee":"25.00"}]}
            """);
        var line = StatementLine(book, new SkuUsage("api", 0m, 3));
        Assert.Equal((20.00m, 0m), (line.Amount, line.BillableQuantity));
        Assert.Equal([new TierCharge(1, 0m, 1000m, 0m, 0.01m, 20.00m, 20.00m)], line.Tiers);
    }

    // ---- 2. percentage prices ----

    [Fact]
    public void Percentage_rates_the_converted_amount_less_included_units()
    {
        // 400 cents = 4.00 USD, 1.00 included: 3.00 x 3 % = 0.09 (main billed 0.12: 4.00 x 3 %, the included unit ignored).
        var price = Price("fx", """{"model":"percentage","unit":"USD","rate":"3","convert":{"divide_by":"100","round":"none"},"included_units":"1.00"}""");
        Assert.Equal(0.09m, price.Amount(400m, transactions: 2));
        Assert.Equal(3.00m, price.BillableQuantity(400m));
        var line = StatementLine(Book("""
            "fx":{"model":"percentage","unit":"USD","rate":"3","convert":{"divide_by":"100","round":"none"},"included_units":"1.00"}
            """), new SkuUsage("fx", 400m, 2));
        Assert.Equal((4.00m, 1.00m, 3.00m, 0.09m), (line.ConvertedQuantity, line.IncludedUnitsApplied, line.BillableQuantity, line.Amount));
    }

    [Fact]
    public void Percentage_of_a_zero_period_amount_pays_no_fixed_fee()
    {
        var price = new SkuPrice("pay", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m);
        Assert.Equal(0m, price.Amount(0m, transactions: 3));
        Assert.Equal(0.90m + 0.29m, price.Amount(10m, transactions: 3)); // 3 x 0.30 + 10 x 2.9 %
    }

    [Fact]
    public void A_zero_amount_transaction_pays_neither_the_fixed_fee_nor_the_minimum()
    {
        var bounded = new SkuPrice("pay", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m, perTransactionMin: 0.50m);
        Assert.Equal(0m, bounded.TransactionFee(0m));
        Assert.Equal(0.50m, bounded.TransactionFee(0.01m)); // 0.00029 + 0.30 -> min 0.50
    }

    [Fact]
    public void The_first_free_transactions_are_free_and_later_ones_pay_rate_and_fixed_fee()
    {
        // 2 % + 0.30, first 2 transactions free: 10 free, 20 free, 30 -> 0.60 + 0.30, 0 -> nothing, 40 -> 0.80 + 0.30: 2.00.
        var price = Price("pay", """{"model":"percentage","rate":"2","fixed_fee":"0.30","free_transactions":2}""");
        Assert.True(price.NeedsTransactions);
        Assert.Equal(2.00m, Fees(price, 10m, 20m, 30m, 0m, 40m));
    }

    [Fact]
    public void A_free_amount_frees_the_rate_and_the_fixed_fee_of_the_transactions_inside_it()
    {
        // 2 % + 0.30, first 50.00 free. 20 (inside: free), 25 (45 < 50: free), 15 (uses the last 5: 10 x 2 % + 0.30 = 0.50),
        // 100 (100 x 2 % + 0.30 = 2.30): 2.80. Lago's period formula agrees: (160 - 50) x 2 % + (4 - 2 free) x 0.30 = 2.80.
        var price = Price("pay", """{"model":"percentage","rate":"2","fixed_fee":"0.30","free_amount":"50"}""");
        Assert.True(price.NeedsTransactions);
        Assert.Equal(2.80m, Fees(price, 20m, 25m, 15m, 100m));
        // A transaction that uses the free amount up exactly rates 0 but pays its fixed fee (as Lago's running-total rule).
        Assert.Equal(0.30m, Fees(price, 50m));
    }

    [Fact]
    public void A_free_amount_without_a_fixed_fee_is_rated_from_period_totals()
    {
        // 160 - 50 free = 110 x 2 % = 2.20, whatever the split into transactions.
        var price = Price("pay", """{"model":"percentage","rate":"2","free_amount":"50"}""");
        Assert.False(price.NeedsTransactions);
        Assert.Equal(2.20m, price.Amount(160m, transactions: 4));
        Assert.Equal(0m, price.Amount(50m, transactions: 1));
        Assert.Equal(2.20m, Fees(price, 20m, 25m, 15m, 100m));
    }

    [Fact]
    public void With_free_transactions_and_a_free_amount_the_allowance_ends_at_whichever_comes_first()
    {
        // 1 % + 0.10; the first 3 transactions or the first 500.00 are free.
        var price = Price("pay", """{"model":"percentage","rate":"1","fixed_fee":"0.10","free_transactions":3,"free_amount":"500"}""");
        // 100, 100, 100 free (3 transactions, 300 < 500); the 4th is past the count: 1.00 + 0.10.
        Assert.Equal(1.10m, Fees(price, 100m, 100m, 100m, 100m));
        // 400 free; 200 crosses 500: 100 x 1 % + 0.10 = 1.10; 50 after: 0.50 + 0.10 = 0.60: 1.70.
        Assert.Equal(1.70m, Fees(price, 400m, 200m, 50m));
    }

    [Fact]
    public void A_free_transaction_is_not_raised_to_the_per_transaction_minimum()
    {
        // 2.9 % + 0.30, min 0.50, first transaction free: 5 -> 0 (not 0.50), 5 -> 0.445 -> 0.50.
        var price = Price("pay", """{"model":"percentage","rate":"2.9","fixed_fee":"0.30","per_transaction_min":"0.50","free_transactions":1}""");
        Assert.Equal(0.50m, Fees(price, 5m, 5m));
    }

    [Fact]
    public void Included_units_come_off_the_rated_part_of_transactions_in_order_and_the_fixed_fee_stays()
    {
        // 2 % + 0.30, min 0.50, 100 included: 60 -> 0 + 0.30 -> 0.50; 60 -> 20 x 2 % + 0.30 = 0.70; 100 -> 2.30: 3.50.
        var price = Price("pay", """{"model":"percentage","rate":"2","fixed_fee":"0.30","per_transaction_min":"0.50","included_units":"100"}""");
        Assert.Equal(3.50m, Fees(price, 60m, 60m, 100m));
    }

    [Fact]
    public void Transactions_rated_one_by_one_carry_their_free_allowance_across_windows()
    {
        var price = Price("pay", """{"model":"percentage","rate":"2","fixed_fee":"0.30","free_amount":"50"}""");
        var state = default(PeriodRatingState);
        var charges = new[] { 20m, 25m, 15m, 100m }.Select(a => WindowRater.RateTransaction(price, ref state, a, 2, RoundingMode.HalfUp)).ToArray();
        Assert.Equal([0m, 0m, 0.50m, 2.30m], charges);
    }

    [Fact]
    public void A_statement_rates_free_amount_transactions_in_order()
    {
        var book = Book(""" "pay":{"model":"percentage","unit":"USD","rate":"2","fixed_fee":"0.30","free_amount":"50"} """);
        var line = StatementLine(book, new SkuUsage("pay", 160m, 4, [20m, 25m, 15m, 100m]));
        Assert.Equal((2.80m, 50m, 110m), (line.Amount, line.IncludedUnitsApplied, line.BillableQuantity));
    }

    // ---- 3. per-tier block sizes (Kill Bill tiered blocks) ----

    [Theory]
    [InlineData("0", "0")]
    [InlineData("1", "1.00")] // one started block of tier 1
    [InlineData("500", "5.00")] // tier 1 full: 5 blocks
    [InlineData("501", "5.80")] // 5.00 + 1 started block of tier 2
    [InlineData("730", "7.40")] // 5 x 1.00 + ceil(230 / 100) = 3 x 0.80 (Kill Bill ALL_TIERS)
    public void Graduated_block_tiers_price_started_blocks_of_each_tiers_units_as_all_tiers(string quantity, string expected) =>
        Assert.Equal(decimal.Parse(expected), new SkuPrice("s", PricingModel.Graduated, "unit", tiers: Blocks).Amount(decimal.Parse(quantity)));

    [Theory]
    [InlineData("450", "5.00")] // tier 1: ceil(450 / 100) = 5 x 1.00
    [InlineData("730", "6.40")] // tier 2 prices all units: ceil(730 / 100) = 8 x 0.80 (Kill Bill TOP_TIER)
    public void Volume_block_tiers_price_all_units_in_started_blocks_of_the_top_tier(string quantity, string expected) =>
        Assert.Equal(decimal.Parse(expected), new SkuPrice("s", PricingModel.Volume, "unit", tiers: Blocks).Amount(decimal.Parse(quantity)));

    [Fact]
    public void Block_tiers_mix_with_per_unit_tiers_and_break_down_to_the_amount()
    {
        // tier 1: 1,000 units at 0.001 each; tier 2: blocks of 250 at 0.20 + flat 1.00. 1,600 units: 1.00 + ceil(600 / 250) = 3 x 0.20 + 1.00 = 2.60.
        var price = Price("s", """{"model":"graduated","tiers":[{"up_to":1000,"unit_price":"0.001"},{"up_to":null,"block_size":250,"block_price":"0.20","flat_fee":"1.00"}]}""");
        Assert.Equal(2.60m, price.Amount(1600));
        Assert.Equal([new TierCharge(1, 0m, 1000m, 1000m, 0.001m, 0m, 1.000m), new TierCharge(2, 1000m, null, 600m, 0.20m, 1.00m, 1.60m)], price.TierBreakdown(1600));
    }

    [Fact]
    public void Block_tier_windows_telescope_to_the_period_price()
    {
        // totals 250 -> 3 blocks 3.00, 500 -> 5.00, 730 -> 7.40: charges 3.00, 2.00, 2.40.
        var price = new SkuPrice("s", PricingModel.Graduated, "unit", tiers: Blocks);
        var state = default(PeriodRatingState);
        var charges = new[] { 250m, 250m, 230m }.Select(q => WindowRater.RateWindow(price, ref state, q, 1, 2, RoundingMode.HalfUp)).ToArray();
        Assert.Equal([3.00m, 2.00m, 2.40m], charges);
    }

    // ---- the loader: new fields are validated with their JSON path and change the version hash ----

    [Theory]
    [InlineData("""{"model":"per_unit","unit_price":1,"flat_fee_at_zero":false}""", "$.versions[0].prices[\"s\"].flat_fee_at_zero", "only graduated and volume")]
    [InlineData("""{"model":"graduated","flat_fee_at_zero":"no","tiers":[{"up_to":null,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].flat_fee_at_zero", "must be true")]
    [InlineData("""{"model":"per_unit","unit_price":1,"free_amount":5}""", "$.versions[0].prices[\"s\"].free_amount", "only percentage")]
    [InlineData("""{"model":"percentage","rate":1,"free_transactions":1.5}""", "$.versions[0].prices[\"s\"].free_transactions", "whole number")]
    [InlineData("""{"model":"percentage","rate":1,"free_transactions":-1}""", "$.versions[0].prices[\"s\"].free_transactions", "must not be negative")]
    [InlineData("""{"model":"percentage","rate":1,"included_units":5,"free_amount":5}""", "$.versions[0].prices[\"s\"].included_units", "cannot be combined")]
    [InlineData("""{"model":"percentage","rate":1,"convert":{"divide_by":100,"round":"up"}}""", "$.versions[0].prices[\"s\"].convert.round", "round none")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":250,"block_size":100,"block_price":1},{"up_to":null,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[0].block_size", "whole number of blocks")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":null,"block_size":0,"block_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[0].block_size", "greater than zero")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":null,"block_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[0].block_size", "greater than zero")]
    [InlineData("""{"model":"graduated","tiers":[{"up_to":null,"block_size":10}]}""", "$.versions[0].prices[\"s\"].tiers[0].block_price", "is required")]
    [InlineData("""{"model":"volume","tiers":[{"up_to":null,"block_size":10,"block_price":1,"unit_price":1}]}""", "$.versions[0].prices[\"s\"].tiers[0].unit_price", "per block")]
    public void Invalid_new_pricing_fields_are_rejected_with_their_json_path(string price, string path, string message) =>
        Assert.Contains(Errors(price), e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));

    [Fact]
    public void The_version_hash_covers_every_new_pricing_field()
    {
        static string Hash(string price) => PriceBookLoader.Load(PriceBookLoader.Utf8(
            """{"id":"peers","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{"s":""" + price + "}}]}"), "h").Versions[0].Hash;
        var hashes = new[]
        {
            Hash("""{"model":"graduated","tiers":[{"up_to":100,"unit_price":1,"flat_fee":1},{"up_to":null,"unit_price":1}]}"""),
            Hash("""{"model":"graduated","flat_fee_at_zero":false,"tiers":[{"up_to":100,"unit_price":1,"flat_fee":1},{"up_to":null,"unit_price":1}]}"""),
            Hash("""{"model":"graduated","tiers":[{"up_to":100,"block_size":10,"block_price":1,"flat_fee":1},{"up_to":null,"unit_price":1}]}"""),
            Hash("""{"model":"percentage","rate":1,"fixed_fee":1}"""),
            Hash("""{"model":"percentage","rate":1,"fixed_fee":1,"free_transactions":3}"""),
            Hash("""{"model":"percentage","rate":1,"fixed_fee":1,"free_amount":3}"""),
        };
        Assert.Equal(hashes.Length, hashes.Distinct().Count());
    }

    // ---- `metering rate`, what the outside checkers run ----

    private const string RateBook = """
        {"id":"peers","currency":"USD","versions":[{"version":"v1","effective_from":"2026-11-01T00:00:00Z","prices":{
          "flat": {"model":"graduated","unit":"call","tiers":[{"up_to":5,"unit_price":"5","flat_fee":"1"},{"up_to":null,"unit_price":"3"}]},
          "flat.off": {"model":"volume","unit":"call","flat_fee_at_zero":false,"tiers":[{"up_to":5,"unit_price":"5","flat_fee":"1"},{"up_to":null,"unit_price":"3"}]},
          "fx": {"model":"percentage","unit":"USD","rate":"3","convert":{"divide_by":"100","round":"none"},"included_units":"1.00"},
          "pay": {"model":"percentage","unit":"USD","rate":"2","fixed_fee":"0.30","free_amount":"50"},
          "blocks": {"model":"graduated","unit":"unit","tiers":[{"up_to":500,"block_size":100,"block_price":"1.00"},{"up_to":null,"block_size":100,"block_price":"0.80"}]}
        }}]}
        """;

    private static async Task<(int Code, List<JsonElement> Lines)> Rate(params string[] usage)
    {
        var dir = Directory.CreateTempSubdirectory("metering-rules-").FullName;
        try
        {
            var book = Path.Combine(dir, "book.json");
            var input = Path.Combine(dir, "usage.ndjson");
            var output = Path.Combine(dir, "items.ndjson");
            await File.WriteAllTextAsync(book, RateBook);
            await File.WriteAllLinesAsync(input, usage.Select(u => "{\"account\":\"a\",\"period_start\":\"2026-11-01T00:00:00Z\"," + u + "}"));
            var code = await Program.RunAsync(["rate", "--pricebook", book, "--usage", input, "--output", output], TextWriter.Null, TextWriter.Null, CancellationToken.None);
            var lines = (await File.ReadAllLinesAsync(output)).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            return (code, lines);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static string Amount(JsonElement line) => line.GetProperty("amount").GetString()!;

    [Fact]
    public async Task Rate_command_charges_the_first_tiers_flat_fee_at_zero_unless_the_price_opts_out()
    {
        var (code, lines) = await Rate("""
            "sku":"flat","quantity":"0"
            """, """
            "sku":"flat.off","quantity":"0"
            """);
        Assert.Equal(0, code);
        Assert.Equal(("1.00", "0.00"), (Amount(lines[0]), Amount(lines[1])));
        var tier = Assert.Single(lines[0].GetProperty("tiers").EnumerateArray());
        Assert.Equal(("0", "1"), (tier.GetProperty("units").GetString(), tier.GetProperty("amount").GetString()));
    }

    [Fact]
    public async Task Rate_command_rates_percentage_after_conversion_and_included_units()
    {
        var (_, lines) = await Rate("""
            "sku":"fx","quantity":"400","transactions":2
            """);
        Assert.Equal(("0.09", "3.00"), (Amount(lines[0]), lines[0].GetProperty("billable_quantity").GetString()));
    }

    [Fact]
    public async Task Rate_command_rates_free_amount_transactions_line_by_line()
    {
        var (code, lines) = await Rate(new[] { "20", "25", "15", "100" }.Select(a => "\"sku\":\"pay\",\"quantity\":\"" + a + "\"").ToArray());
        Assert.Equal(0, code);
        Assert.Equal(["0.00", "0.00", "0.50", "2.30"], lines.Select(Amount));
        Assert.Equal("2.80", lines[3].GetProperty("period_amount").GetString());
    }

    [Fact]
    public async Task Rate_command_prices_started_blocks_per_tier_and_shows_the_block_size()
    {
        var (_, lines) = await Rate("""
            "sku":"blocks","quantity":"730"
            """);
        Assert.Equal("7.40", Amount(lines[0]));
        var tiers = lines[0].GetProperty("tiers").EnumerateArray().ToList();
        Assert.Equal(("230", "100", "0.80", "2.40"), (tiers[1].GetProperty("units").GetString(), tiers[1].GetProperty("block_size").GetString(),
            tiers[1].GetProperty("block_price").GetString(), tiers[1].GetProperty("amount").GetString()));
    }
}
