using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;

namespace Metering.UnitTests.Rating.Statements;

/// <summary>The price books, period and inputs the statement tests share; every amount in the tests is computed by hand from these prices.</summary>
internal static class StatementBooks
{
    public static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>November 2026: 30 days.</summary>
    public static readonly BillingPeriod NovemberPeriod = new(November, December);

    /// <summary>
    /// November (version "nov"): requests 0.01 each; egress in bytes billed per GB (divide_by 10^9), 100 GB included, graduated
    /// 0.08 up to 1,000 GB, 0.06 (+1.50 flat) up to 5,000 GB, then 0.04; cpu in CPU-ms billed per million by volume, 0.02 up to 30,
    /// 0.015 (+1.00 flat) up to 1,000, then 0.01 (+5.00 flat); dns by started blocks of 10^6 queries at 0.40 after 10^6 free;
    /// payments 2.9 % + 0.30 per transaction, each clamped to [0.50, 25.00]. Fees: platform 20.00 prorated, support 10.00 not
    /// prorated. Minimum commitment 100.00. October has no version.
    /// </summary>
    public static readonly PriceBook List = Load("list", "USD");

    public static readonly PriceCatalog Prices = new(List, []);

    public static PriceBook Load(string id, string currency) => PriceBookLoader.Load(PriceBookLoader.Utf8($$"""
        {
          "id": "{{id}}", "currency": "{{currency}}", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [
            { "version": "nov", "effective_from": "2026-11-01T00:00:00Z",
              "prices": {
                "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.01" },
                "egress": { "model": "graduated", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "100",
                  "tiers": [ { "up_to": "1000", "unit_price": "0.08" }, { "up_to": "5000", "unit_price": "0.06", "flat_fee": "1.50" }, { "up_to": null, "unit_price": "0.04" } ] },
                "cpu": { "model": "volume", "unit": "million CPU-ms", "convert": { "divide_by": "1000000", "round": "none" },
                  "tiers": [ { "up_to": "30", "unit_price": "0.02" }, { "up_to": "1000", "unit_price": "0.015", "flat_fee": "1.00" }, { "up_to": null, "unit_price": "0.01", "flat_fee": "5.00" } ] },
                "dns": { "model": "package", "unit": "query", "included_units": "1000000", "package_size": "1000000", "package_price": "0.40", "package_rounding": "up" },
                "payments": { "model": "percentage", "unit": "{{currency}}", "rate": "2.9", "fixed_fee": "0.30", "per_transaction_min": "0.50", "per_transaction_max": "25.00" }
              },
              "fees": [ { "id": "platform", "amount": "20.00", "prorate": true }, { "id": "support", "amount": "10.00", "prorate": false } ],
              "minimum_commitment": "100.00" }
          ]
        }
        """), id);

    /// <summary>The November statement input of <paramref name="account"/>, subscribed from the period's start unless <paramref name="terms"/> say otherwise.</summary>
    public static StatementInput Input(IReadOnlyList<SkuUsage> usage, IReadOnlyList<AdjustmentLine>? adjustments = null, StatementTerms? terms = null, PriceCatalog? prices = null,
        string account = "acct-1") =>
        new(account, NovemberPeriod, terms ?? new StatementTerms(November), usage, adjustments ?? [], prices ?? Prices);

    public static Statement Build(params SkuUsage[] usage) => StatementBuilder.Build(Input(usage));
}
