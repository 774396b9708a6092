using System.Text;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.UnitTests.Decoding;

namespace Metering.UnitTests.Admission;

public class RecordAdmissionTests
{
    private static string Record(string account = "acct-1", string sku = "cdn.egress.bytes", string time = "2026-11-24T11:59:00Z", string dimensions = """{"region":"eu"}""", string id = "e-1") =>
        $$"""{"id":{{Json(id)}},"account":{{Json(account)}},"sku":{{Json(sku)}},"quantity":"1","time":"{{time}}","dimensions":{{dimensions}}}""";

    private static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private static (RejectReason Reason, string Detail) Admit(string line, AdmissionOptions? options = null)
    {
        var admission = new RecordAdmission(new RecordCatalog(), options ?? new AdmissionOptions { Decoder = DecoderTestKit.Options() });
        var reason = admission.Admit(Encoding.UTF8.GetBytes(line), out _, out var detail);
        return (reason, detail);
    }

    [Theory]
    [InlineData("acct\u0000x", "control character U+0000")]
    [InlineData("acct\u001Fx", "control character U+001F")]
    [InlineData("acct\u007F", "control character U+007F")]
    [InlineData("acct\u0085", "control character U+0085")]
    [InlineData("a\uFFFF", "noncharacter U+FFFF")]
    [InlineData("tenant/1", "contains '/'")]
    [InlineData("tenant\\1", "contains '\\'")]
    [InlineData(".", "'.' or '..'")]
    [InlineData("..", "'.' or '..'")]
    [InlineData(" acct", "white space")]
    [InlineData("acct ", "white space")]
    [InlineData("acct\u00A0", "white space")]
    [InlineData("\u3000acct", "white space")]
    public void An_account_the_ledger_cannot_store_or_the_api_cannot_address_is_refused_naming_why(string account, string why)
    {
        var (reason, detail) = Admit(Record(account: account));
        Assert.Equal(RejectReason.InvalidIdentifier, reason);
        Assert.Contains("account", detail, StringComparison.Ordinal);
        Assert.Contains(why, detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sku\u0000")]
    [InlineData("sku\n")]
    [InlineData("a/b")]
    public void The_same_rule_applies_to_skus_and_ids(string value)
    {
        Assert.Equal(RejectReason.InvalidIdentifier, Admit(Record(sku: value)).Reason);
        Assert.Equal(RejectReason.InvalidIdentifier, Admit(Record(id: value)).Reason);
    }

    [Theory]
    [InlineData("acct-42")]
    [InlineData("a.b")]
    [InlineData("...")]
    [InlineData("user@example.com")]
    [InlineData("a b")]
    [InlineData("Zürich-漢-😀")]
    [InlineData("100%")]
    [InlineData("a?b#c")]
    public void Ordinary_identifiers_with_dots_spaces_inside_and_unicode_are_accepted(string account) =>
        Assert.Equal(RejectReason.None, Admit(Record(account: account)).Reason);

    [Fact]
    public void An_escaped_nul_is_the_same_as_a_raw_one()
    {
        var line = Record().Replace("\"acct-1\"", "\"acct\\u0000\"", StringComparison.Ordinal);
        Assert.Equal(RejectReason.InvalidIdentifier, Admit(line).Reason);
    }

    [Fact]
    public void A_dimension_key_given_twice_is_refused()
    {
        var (reason, detail) = Admit(Record(dimensions: """{"region":"eu","region":"us"}"""));
        Assert.Equal(RejectReason.InvalidDimensions, reason);
        Assert.Contains("'region' appears twice", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dimension_key_given_twice_through_an_escape_is_refused()
    {
        Assert.Equal(RejectReason.InvalidDimensions, Admit(Record(dimensions: """{"region":"eu","regio\u006e":"us"}""")).Reason);
    }

    [Theory]
    [InlineData("""{"region":"e\u0000u"}""")]
    [InlineData("""{"reg\u0007ion":"eu"}""")]
    public void Control_characters_in_dimensions_are_refused(string dimensions) =>
        Assert.Equal(RejectReason.InvalidDimensions, Admit(Record(dimensions: dimensions)).Reason);

    [Fact]
    public void A_record_over_the_size_limit_is_refused_with_its_length()
    {
        var options = new AdmissionOptions { Decoder = DecoderTestKit.Options(maxLineBytes: 100) };
        var (reason, detail) = Admit(Record(), options);
        Assert.Equal(RejectReason.LineTooLong, reason);
        Assert.Contains("the limit is 100", detail, StringComparison.Ordinal);
    }


    [Fact]
    public void A_quiet_worker_judges_a_new_chunk_by_the_clock_of_that_chunk()
    {
        // The regression: the clock was re-read only every 1024 records, so a worker that had parsed a few records
        // an hour ago judged a record of now-30s by the old clock and dead-lettered it future_time.
        var clock = new MovableClock(new DateTimeOffset(2026, 11, 24, 11, 0, 0, TimeSpan.Zero));
        var admission = new RecordAdmission(new RecordCatalog(), new AdmissionOptions { Decoder = new DecoderOptions { Clock = clock } });
        for (var i = 0; i < 5; i++)
        {
            admission.BeginChunk();
            Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(id: "old-" + i, time: "2026-11-24T10:59:00Z")), out _, out _));
        }

        clock.Now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        admission.BeginChunk();
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(id: "now", time: "2026-11-24T11:59:30Z")), out _, out var detail));
        Assert.Equal("", detail);
    }

    [Fact]
    public void The_edge_age_limit_refuses_records_older_than_its_horizon_as_expired()
    {
        var options = new AdmissionOptions { Decoder = DecoderTestKit.Options(), MaxAge = TimeSpan.FromHours(22) };
        Assert.Equal(RejectReason.None, Admit(Record(time: "2026-11-23T14:00:01Z"), options).Reason);
        var (reason, detail) = Admit(Record(time: "2026-11-23T13:59:59Z"), options);
        Assert.Equal(RejectReason.ExpiredTime, reason);
        Assert.Contains("behind the clock", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_skus_are_refused_only_when_configured()
    {
        var known = new HashSet<string> { "cdn.egress.bytes" };
        var reject = new AdmissionOptions { Decoder = DecoderTestKit.Options(), UnknownSkus = UnknownSkuPolicy.Reject, KnownSkus = known };
        Assert.Equal(RejectReason.None, Admit(Record(sku: "cdn.egress.bytes"), reject).Reason);
        var (reason, detail) = Admit(Record(sku: "made.up"), reject);
        Assert.Equal(RejectReason.UnknownSku, reason);
        Assert.Contains("'made.up'", detail, StringComparison.Ordinal);
        Assert.Equal(RejectReason.None, Admit(Record(sku: "made.up")).Reason);
    }

    [Fact]
    public void A_sku_a_newly_published_version_prices_is_admitted_once_the_known_set_is_replaced_also_after_it_was_refused()
    {
        var reject = new AdmissionOptions { Decoder = DecoderTestKit.Options(), UnknownSkus = UnknownSkuPolicy.Reject, KnownSkus = new HashSet<string> { "cdn.egress.bytes" } };
        var admission = new RecordAdmission(new RecordCatalog(), reject);
        var record = Encoding.UTF8.GetBytes(Record(sku: "ai.tokens"));
        Assert.Equal(RejectReason.UnknownSku, admission.Admit(record, out _, out _)); // judged (and cached) as unknown
        admission.UseKnownSkus(new HashSet<string> { "cdn.egress.bytes", "ai.tokens" });
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(id: "e-2", sku: "ai.tokens")), out _, out _));
        admission.UseKnownSkus(null); // nothing to replace it with: the set stays
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(id: "e-3", sku: "ai.tokens")), out _, out _));
    }

    [Fact]
    public void Unknown_accounts_are_refused_only_when_configured_naming_the_account_and_how_to_create_it()
    {
        var reject = new AdmissionOptions { Decoder = DecoderTestKit.Options(), UnknownAccounts = UnknownAccountPolicy.Reject, Accounts = new GrowingAccountDirectory("acct-1") };
        Assert.Equal(RejectReason.None, Admit(Record(account: "acct-1"), reject).Reason);
        var (reason, detail) = Admit(Record(account: "acct 2?x"), reject);
        Assert.Equal(RejectReason.UnknownAccount, reason);
        Assert.Equal("unknown_account", reason.Code());
        Assert.Contains("'acct 2?x'", detail, StringComparison.Ordinal);
        Assert.Contains("PUT /v1/accounts/acct%202%3Fx", detail, StringComparison.Ordinal);
        Assert.Contains("metering account set", detail, StringComparison.Ordinal);
        Assert.Equal(RejectReason.None, Admit(Record(account: "acct 2?x")).Reason); // auto, the default
    }

    [Fact]
    public void A_record_that_breaks_a_field_rule_keeps_that_reason_under_the_account_policy()
    {
        var reject = new AdmissionOptions { Decoder = DecoderTestKit.Options(), UnknownAccounts = UnknownAccountPolicy.Reject, Accounts = new GrowingAccountDirectory() };
        Assert.Equal(RejectReason.InvalidIdentifier, Admit(Record(account: "a/b"), reject).Reason);
        Assert.Equal(RejectReason.FutureTime, Admit(Record(time: "2026-11-24T13:00:00Z"), reject).Reason);
    }

    [Fact]
    public void An_account_the_directory_learns_of_is_admitted_from_the_next_chunk_and_each_answer_is_looked_up_once_per_version()
    {
        var directory = new GrowingAccountDirectory("acct-1");
        var admission = new RecordAdmission(new RecordCatalog(), new AdmissionOptions { Decoder = DecoderTestKit.Options(), UnknownAccounts = UnknownAccountPolicy.Reject, Accounts = directory });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RejectReason.UnknownAccount, admission.Admit(Encoding.UTF8.GetBytes(Record(account: "acct-new", id: "n" + i)), out _, out _));
            Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(account: "acct-1", id: "o" + i)), out _, out _));
        }

        Assert.Equal(2, directory.Lookups); // cached per interned account id
        directory.Add("acct-new");
        // Within the chunk the answers of the version it began with stand; the next chunk sees the new version.
        Assert.Equal(RejectReason.UnknownAccount, admission.Admit(Encoding.UTF8.GetBytes(Record(account: "acct-new", id: "n3")), out _, out _));
        admission.BeginChunk();
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(account: "acct-new", id: "n4")), out _, out _));
        admission.BeginChunk(); // same version: no new lookups
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(account: "acct-new", id: "n5")), out _, out _));
        Assert.Equal(3, directory.Lookups);
    }

    [Fact]
    public void Rejecting_unknown_accounts_without_a_directory_is_refused_naming_the_option()
    {
        var e = Assert.Throws<ArgumentException>(() => new RecordAdmission(new RecordCatalog(), new AdmissionOptions { UnknownAccounts = UnknownAccountPolicy.Reject }));
        Assert.Equal("Accounts", e.ParamName);
    }

    [Fact]
    public void A_full_catalog_is_reported_as_such_so_the_caller_can_renew_it()
    {
        var admission = new RecordAdmission(new RecordCatalog(maxSkus: 1), new AdmissionOptions { Decoder = DecoderTestKit.Options() });
        Assert.Equal(RejectReason.None, admission.Admit(Encoding.UTF8.GetBytes(Record(sku: "a")), out _, out _));
        Assert.Equal(RejectReason.CardinalityLimit, admission.Admit(Encoding.UTF8.GetBytes(Record(sku: "b")), out _, out _));
    }
}
