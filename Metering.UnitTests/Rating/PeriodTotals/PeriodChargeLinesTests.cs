using Metering.Rating.Invoicing;
using Metering.Rating.PriceBooks;

namespace Metering.UnitTests.Rating.PeriodTotals;

/// <summary>The fee and commitment lines of a period, the one rule of the invoice preview and <c>metering rate --period-lines</c>.</summary>
public sealed class PeriodChargeLinesTests
{
    private static readonly DateTimeOffset October = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>November: a prorated platform fee of 20.00 and a 25.00 commitment; October: neither.</summary>
    private static readonly PriceBook List = PriceBookLoader.Load("""
        {
          "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [
            { "version": "oct", "effective_from": "2026-10-01T00:00:00Z", "effective_to": "2026-11-01T00:00:00Z",
              "prices": { "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.001" } } },
            { "version": "nov", "effective_from": "2026-11-01T00:00:00Z",
              "prices": { "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.001" } },
              "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ], "minimum_commitment": "25.00" }
          ]
        }
        """u8, "list");

    private static PriceBook ContractOf(string account, string version) => PriceBookLoader.Load(PriceBookLoader.Utf8($$"""
        {
          "id": "{{account}}-contract", "account": "{{account}}", "parent": "list", "currency": "USD",
          "versions": [ { "version": "c1", "effective_from": "2026-11-01T00:00:00Z",
            "prices": { "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.0005" } }{{version}} } ]
        }
        """), account, List);

    private static readonly PriceCatalog Prices = new(List,
    [
        ContractOf("acct-commit", """, "minimum_commitment": "5000.00" """),
        ContractOf("acct-fees", """, "fees": [ { "id": "support", "amount": "99.995", "prorate": false }, { "id": "seat", "amount": "3.333", "prorate": true } ] """),
        ContractOf("acct-prices-only", ""),
    ]);

    private static List<(string Kind, string? Fee, decimal? Commitment, decimal? Usage, decimal Amount, string Book)> Lines(string account, DateTimeOffset start, decimal usage) =>
        PeriodChargeLines.Of(Prices, account, start, _ => usage).Select(l => (l.Kind, l.FeeId, l.Commitment, l.UsageCharged, l.Amount, l.Book.Id)).ToList();

    [Fact]
    public void A_list_account_gets_the_list_fee_and_the_commitment_true_up_against_its_usage()
    {
        Assert.Equal(
            [("fee", "platform", null, null, 20.00m, "list"), ("commitment_true_up", null, 25.00m, 1.50m, 23.50m, "list")],
            Lines("acct-list", November, 1.50m));
    }

    [Fact]
    public void A_contract_commitment_replaces_the_list_commitment_and_the_list_fee_stays()
    {
        Assert.Equal(
            [("fee", "platform", null, null, 20.00m, "list"), ("commitment_true_up", null, 5000.00m, 49.38m, 4950.62m, "acct-commit-contract")],
            Lines("acct-commit", November, 49.38m));
    }

    [Fact]
    public void Contract_fees_replace_the_list_fees_and_the_list_commitment_stays()
    {
        // 99.995 rounds half up to 100.00; 3.333 prorated over the whole period is 3.33.
        Assert.Equal(
            [("fee", "support", null, null, 100.00m, "acct-fees-contract"), ("fee", "seat", null, null, 3.33m, "acct-fees-contract"), ("commitment_true_up", null, 25.00m, 0m, 25.00m, "list")],
            Lines("acct-fees", November, 0m));
    }

    [Fact]
    public void A_contract_that_defines_only_prices_leaves_fees_and_commitment_at_list()
    {
        Assert.Equal(Lines("acct-list", November, 3m).Select(l => (l.Kind, l.Amount, l.Book)), Lines("acct-prices-only", November, 3m).Select(l => (l.Kind, l.Amount, l.Book)));
    }

    [Fact]
    public void Usage_beyond_the_commitment_leaves_a_true_up_of_zero()
    {
        var trueUp = PeriodChargeLines.Of(Prices, "acct-list", November, _ => 1_719m).Single(l => l.Kind == PeriodChargeLine.CommitmentTrueUp);
        Assert.Equal((0m, "USD", "nov", November.AddMonths(1)), (trueUp.Amount, trueUp.Currency.Code, trueUp.Version.Version, trueUp.Period.End));
    }

    [Fact]
    public void The_true_up_compares_with_the_usage_charged_in_the_commitment_currency()
    {
        var asked = new List<string>();
        var line = PeriodChargeLines.Of(Prices, "acct-list", November, c => { asked.Add(c.Code); return c.Code == "USD" ? 10m : 1_000m; }).Single(l => l.Kind == PeriodChargeLine.CommitmentTrueUp);
        Assert.Equal(["USD"], asked);
        Assert.Equal((10m, 15.00m), (line.UsageCharged, line.Amount));
    }

    [Fact]
    public void A_period_whose_versions_define_no_fee_and_no_commitment_has_no_lines()
    {
        Assert.Empty(Lines("acct-commit", October, 0m));
    }

    [Fact]
    public void A_catalog_without_a_list_book_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => PeriodChargeLines.Of(new PriceCatalog(null, []), "acct-list", November, _ => 0m));
        Assert.Contains("list price book", e.Message, StringComparison.Ordinal);
    }
}
