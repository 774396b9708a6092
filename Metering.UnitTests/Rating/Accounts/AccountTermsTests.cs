using System.Globalization;
using Metering.Rating.Accounts;
using Metering.Rating.Periods;
using Metering.Web.Api;

namespace Metering.UnitTests.Rating.Accounts;

/// <summary>The one validation of account terms (API and CLI) and the account's billing-period rule.</summary>
public class AccountTermsTests
{
    private static readonly Func<string, string?> AccountRule = UsageRequest.IdentifierProblem;

    private static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    private static AccountTermsInput Valid() =>
        new("acct-1", "EUR", "edge-list", "acct-1-enterprise", "2026-11-15T09:30:00+01:00", "2027-11-15T00:00:00Z", 15, "Europe/Berlin", "signed");

    [Fact]
    public void Valid_input_becomes_terms_with_instants_in_utc()
    {
        var result = AccountTerms.Validate(Valid(), AccountRule);
        Assert.True(result.IsValid);
        Assert.Empty(result.Problems);
        var terms = result.Terms!;
        Assert.Equal("acct-1", terms.Account);
        Assert.Equal("EUR", terms.Currency.Code);
        Assert.Equal("edge-list", terms.ListBook);
        Assert.Equal("acct-1-enterprise", terms.ContractBook);
        Assert.Equal(At("2026-11-15T08:30:00Z"), terms.Start);
        Assert.Equal(TimeSpan.Zero, terms.Start.Offset);
        Assert.Equal(At("2027-11-15T00:00:00Z"), terms.End);
        Assert.Equal(15, terms.AnchorDay);
        Assert.Equal("Europe/Berlin", terms.TimeZone);
        Assert.Equal(terms, AccountTerms.Validate(Valid() with { Start = "2026-11-15T08:30:00Z" }, AccountRule).Terms);
    }

    [Theory]
    [InlineData("currency", "usd")]
    [InlineData("currency", "XYZ")]
    [InlineData("currency", null)]
    [InlineData("time_zone", "Mars/Olympus_Mons")]
    [InlineData("time_zone", "europe/berlin")]
    [InlineData("time_zone", "../../etc/passwd")]
    [InlineData("time_zone", "")]
    [InlineData("list_book", null)]
    [InlineData("list_book", "edge list")]
    [InlineData("contract_book", "a/b")]
    [InlineData("start", null)]
    [InlineData("start", "2026-11-15")]
    [InlineData("start", "2026-11-15T00:00:00")]
    [InlineData("start", "2026-11-15T00:00:00.1234567Z")]
    [InlineData("end", "2026-11-15T09:30:00+01:00")]
    [InlineData("end", "2026-11-01T00:00:00Z")]
    [InlineData("account", "")]
    [InlineData("account", "a/b")]
    [InlineData("account", " acct")]
    [InlineData("reason", "")]
    [InlineData("reason", "bell\u0007")]
    public void Each_bad_field_is_a_problem_under_its_name_and_gives_no_terms(string field, string? value)
    {
        var input = field switch
        {
            "currency" => Valid() with { Currency = value },
            "time_zone" => Valid() with { TimeZone = value },
            "list_book" => Valid() with { ListBook = value },
            "contract_book" => Valid() with { ContractBook = value },
            "start" => Valid() with { Start = value },
            "end" => Valid() with { End = value },
            "account" => Valid() with { Account = value },
            "reason" => Valid() with { Reason = value },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var result = AccountTerms.Validate(input, AccountRule);
        Assert.False(result.IsValid);
        Assert.Null(result.Terms);
        Assert.Equal([field], result.Problems.Keys);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(29)]
    [InlineData(31)]
    [InlineData(-1)]
    public void Anchor_days_outside_1_to_28_are_refused(int day)
    {
        var result = AccountTerms.Validate(Valid() with { AnchorDay = day }, AccountRule);
        Assert.Equal(["anchor_day"], result.Problems.Keys);
        Assert.Contains("1 to 28", result.Problems["anchor_day"][0], StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_field_is_reported_at_once()
    {
        var result = AccountTerms.Validate(new AccountTermsInput("a/b", "usd", null, "x y", "yesterday", null, 30, "Nowhere/City"), AccountRule);
        Assert.Equal(["account", "anchor_day", "contract_book", "currency", "list_book", "start", "time_zone"], result.Problems.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Without_anchor_or_zone_the_account_follows_the_list_books_rule()
    {
        var terms = AccountTerms.Validate(Valid() with { AnchorDay = null, TimeZone = null }, AccountRule).Terms!;
        var fixedRule = BillingPeriodRule.Fixed(TimeSpan.FromDays(7), At("2026-01-05T00:00:00Z"));
        Assert.Same(fixedRule, terms.PeriodRule(fixedRule));
        Assert.Same(BillingPeriodRule.CalendarMonth, terms.PeriodRule(BillingPeriodRule.CalendarMonth));
    }

    [Fact]
    public void An_anchor_alone_is_in_utc_and_a_zone_alone_keeps_the_list_books_anchor()
    {
        var anchorOnly = AccountTerms.Validate(Valid() with { TimeZone = null }, AccountRule).Terms!.PeriodRule(BillingPeriodRule.Monthly(3));
        Assert.Equal(15, anchorOnly.AnchorDay);
        Assert.Equal(new BillingPeriod(At("2026-11-15T00:00:00Z"), At("2026-12-15T00:00:00Z")), anchorOnly.PeriodOf(At("2026-11-20T00:00:00Z")));

        var zoneOnly = AccountTerms.Validate(Valid() with { AnchorDay = null }, AccountRule).Terms!.PeriodRule(BillingPeriodRule.Monthly(3));
        Assert.Equal(new BillingPeriod(At("2026-11-02T23:00:00Z"), At("2026-12-02T23:00:00Z")), zoneOnly.PeriodOf(At("2026-11-20T00:00:00Z")));
        var zoneOnFixedBook = AccountTerms.Validate(Valid() with { AnchorDay = null }, AccountRule).Terms!.PeriodRule(BillingPeriodRule.Fixed(TimeSpan.FromDays(7), At("2026-01-05T00:00:00Z")));
        Assert.Equal(At("2026-10-31T23:00:00Z"), zoneOnFixedBook.PeriodOf(At("2026-11-20T00:00:00Z")).Start);
    }

    [Fact]
    public void The_constructor_refuses_what_the_ledger_could_not_store()
    {
        var eur = Metering.Rating.Money.Currency.Get("EUR");
        var start = At("2026-11-01T00:00:00Z");
        Assert.Equal("end", Assert.ThrowsAny<ArgumentException>(() => new AccountTerms("a", eur, "book", null, start, start, null, null)).ParamName);
        Assert.Equal("start", Assert.ThrowsAny<ArgumentException>(() => new AccountTerms("a", eur, "book", null, start.AddTicks(1), null, null, null)).ParamName);
        Assert.Equal("anchorDay", Assert.ThrowsAny<ArgumentException>(() => new AccountTerms("a", eur, "book", null, start, null, 29, null)).ParamName);
        Assert.Equal("listBook", Assert.ThrowsAny<ArgumentException>(() => new AccountTerms("a", eur, "", null, start, null, null, null)).ParamName);
    }
}
