using System.Text;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using static Metering.UnitTests.Decoding.DecoderTestKit;

namespace Metering.UnitTests.Decoding;

public class UsageRecordParserTests
{
    private const string Good = """{"id":"evt-1","account":"acct-42","sku":"cdn.egress.bytes","quantity":"1536.25","time":"2026-11-24T10:00:00.123Z","dimensions":{"region":"eu"}}""";

    private static string With(string field, string json) =>
        System.Text.RegularExpressions.Regex.Replace(Good, $"\"{field}\":(\\{{[^}}]*\\}}|\"[^\"]*\"|[^,}}]+)", $"\"{field}\":{json}");

    private static string Without(string field) =>
        System.Text.RegularExpressions.Regex.Replace(Good, $",?\"{field}\":(\\{{[^}}]*\\}}|\"[^\"]*\"|[^,}}]+)", "").Replace("{,", "{", StringComparison.Ordinal);

    [Fact]
    public void The_documented_example_decodes_exactly()
    {
        var (reason, r, _, catalog) = ParseOne(Good);
        Assert.Equal(RejectReason.None, reason);
        Assert.Equal("acct-42", catalog.Accounts.GetString(r.AccountId));
        Assert.Equal("cdn.egress.bytes", catalog.Skus.GetString(r.SkuId));
        Assert.Equal(1_536_250_000_000L, r.QuantityNanos);
        Assert.Equal(new DateTime(2026, 11, 24, 10, 0, 0, 123, DateTimeKind.Utc).Ticks, r.TimeTicks);
        Assert.Equal(0, r.DimensionSetId); // no dimension kept by default
    }

    [Theory]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1""", RejectReason.MalformedJson)]
    [InlineData("""[1,2]""", RejectReason.MalformedJson)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"} x""", RejectReason.MalformedJson)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}{}""", RejectReason.MalformedJson)]
    [InlineData("""not json""", RejectReason.MalformedJson)]
    [InlineData("""{"id":"e","account":"a\ud800","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}""", RejectReason.MalformedJson)]
    [InlineData("""{"id":5,"account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidField)]
    [InlineData("""{"id":"e","id":"f","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidField)]
    [InlineData("""{"id":"","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidIdentifier)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":"1.2.3","time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidQuantity)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":true,"time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidQuantity)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":"","time":"2026-11-24T10:00:00Z"}""", RejectReason.InvalidQuantity)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":-0.5,"time":"2026-11-24T10:00:00Z"}""", RejectReason.NegativeQuantity)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":"0.0000000001","time":"2026-11-24T10:00:00Z"}""", RejectReason.QuantityPrecision)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1e-10,"time":"2026-11-24T10:00:00Z"}""", RejectReason.QuantityPrecision)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":"9223372036.854775808","time":"2026-11-24T10:00:00Z"}""", RejectReason.QuantityTooLarge)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1e30,"time":"2026-11-24T10:00:00Z"}""", RejectReason.QuantityTooLarge)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24 10:00"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-02-30T10:00:00Z"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T25:00:00Z"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:60Z"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":1764000000}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"1999-12-31T23:59:59Z"}""", RejectReason.InvalidTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T12:10:00.0000001Z"}""", RejectReason.FutureTime)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z","dimensions":["eu"]}""", RejectReason.InvalidDimensions)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z","dimensions":{"region":{"x":"y"}}}""", RejectReason.InvalidDimensions)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z","dimensions":{"region":5}}""", RejectReason.InvalidDimensions)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z","dimensions":{"":"x"}}""", RejectReason.InvalidDimensions)]
    [InlineData("""{"id":"e","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z","dimensions":{"a=b":"x"}}""", RejectReason.InvalidDimensions)]
    public void Bad_records_are_rejected_with_the_precise_reason(string line, RejectReason expected)
    {
        var (reason, _, detail, _) = ParseOne(line);
        Assert.Equal(expected, reason);
        Assert.False(string.IsNullOrEmpty(detail));
    }

    [Theory]
    [InlineData("id")]
    [InlineData("account")]
    [InlineData("sku")]
    [InlineData("quantity")]
    [InlineData("time")]
    public void A_missing_required_field_is_named_in_the_reject(string field)
    {
        var (reason, _, detail, _) = ParseOne(Without(field));
        Assert.Equal(RejectReason.MissingField, reason);
        Assert.Contains($"'{field}'", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_is_rejected_before_parsing()
    {
        var bytes = Encoding.UTF8.GetBytes(Good);
        bytes[Good.IndexOf("acct", StringComparison.Ordinal)] = 0xFF;
        Assert.Equal(RejectReason.InvalidUtf8, ParseOne(bytes).Reason);
    }

    [Fact]
    public void Identifiers_longer_than_128_bytes_are_rejected_even_when_escaped()
    {
        Assert.Equal(RejectReason.None, ParseOne(With("account", $"\"{new string('a', 128)}\"")).Reason);
        Assert.Equal(RejectReason.InvalidIdentifier, ParseOne(With("account", $"\"{new string('a', 129)}\"")).Reason);
        // 64 escaped "é" (6 bytes each as \u00e9) unescape to 128 bytes: fits. 65 do not.
        Assert.Equal(RejectReason.None, ParseOne(With("account", "\"" + string.Concat(Enumerable.Repeat("\\u00e9", 64)) + "\"")).Reason);
        Assert.Equal(RejectReason.InvalidIdentifier, ParseOne(With("account", "\"" + string.Concat(Enumerable.Repeat("\\u00e9", 65)) + "\"")).Reason);
    }

    [Fact]
    public void Too_many_dimensions_are_rejected()
    {
        var dims = "{" + string.Join(',', Enumerable.Range(0, 17).Select(i => $"\"d{i}\":\"v\"")) + "}";
        Assert.Equal(RejectReason.TooManyDimensions, ParseOne(With("dimensions", dims)).Reason);
        var sixteen = "{" + string.Join(',', Enumerable.Range(0, 16).Select(i => $"\"d{i}\":\"v\"")) + "}";
        Assert.Equal(RejectReason.None, ParseOne(With("dimensions", sixteen)).Reason);
    }

    [Fact]
    public void New_accounts_beyond_the_cardinality_limit_are_rejected_but_known_ones_still_pass()
    {
        var catalog = new RecordCatalog(maxAccounts: 2);
        Assert.Equal(RejectReason.None, ParseOne(With("account", "\"a1\""), catalog: catalog).Reason);
        Assert.Equal(RejectReason.None, ParseOne(With("account", "\"a2\""), catalog: catalog).Reason);
        Assert.Equal(RejectReason.CardinalityLimit, ParseOne(With("account", "\"a3\""), catalog: catalog).Reason);
        Assert.Equal(RejectReason.None, ParseOne(With("account", "\"a1\""), catalog: catalog).Reason);
    }

    [Theory]
    [InlineData("\"1536.25\"", 1_536_250_000_000L)]
    [InlineData("1536.25", 1_536_250_000_000L)]
    [InlineData("1.5e3", 1_500_000_000_000L)]
    [InlineData("15E-1", 1_500_000_000L)]
    [InlineData("0", 0L)]
    [InlineData("-0", 0L)]
    [InlineData("\"0.000000001\"", 1L)]
    [InlineData("\"1.5000000000000\"", 1_500_000_000L)]
    [InlineData("9223372036.854775807", long.MaxValue)]
    public void Quantities_parse_exactly_from_numbers_and_strings(string json, long nanos)
    {
        var (reason, r, _, _) = ParseOne(With("quantity", json));
        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(nanos, r.QuantityNanos);
    }

    [Theory]
    [InlineData("2026-11-24T12:00:00+02:00", "2026-11-24T10:00:00Z")]
    [InlineData("2026-11-24t10:00:00z", "2026-11-24T10:00:00Z")]
    [InlineData("2026-11-24 10:00:00Z", "2026-11-24T10:00:00Z")]
    [InlineData("2026-11-24T05:30:00.5-04:30", "2026-11-24T10:00:00.5Z")]
    [InlineData("2026-11-24T10:00:00.123456789Z", "2026-11-24T10:00:00.1234567Z")] // truncated to 100 ns
    public void Times_convert_to_utc(string time, string utc)
    {
        var (reason, r, _, _) = ParseOne(With("time", $"\"{time}\""));
        Assert.Equal(RejectReason.None, reason);
        Assert.Equal(DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture).UtcTicks, r.TimeTicks);
    }

    [Fact]
    public void Unknown_fields_are_ignored_and_escaped_strings_are_unescaped()
    {
        var (reason, r, _, catalog) = ParseOne("""{"v":2,"extra":{"nested":[1,2]},"id":"e","acc\u006funt":"a\"b","sku":"s\u00e9t","quantity":1,"time":"2026-11-24T10:00:00Z"}""");
        Assert.Equal(RejectReason.None, reason);
        Assert.Equal("a\"b", catalog.Accounts.GetString(r.AccountId));
        Assert.Equal("s\u00e9t", catalog.Skus.GetString(r.SkuId));
    }

    [Fact]
    public void Fingerprints_are_scoped_by_account_and_stable_across_catalogs()
    {
        var a = ParseOne(Good).Record.Fingerprint;
        var again = ParseOne(Good, catalog: new RecordCatalog()).Record.Fingerprint;
        var otherAccount = ParseOne(With("account", "\"acct-43\"")).Record.Fingerprint;
        var otherId = ParseOne(With("id", "\"evt-2\"")).Record.Fingerprint;
        Assert.Equal(a, again);
        Assert.NotEqual(a, otherAccount);
        Assert.NotEqual(a, otherId);
    }

    [Fact]
    public void Kept_dimensions_enter_the_key_in_canonical_order_and_others_are_dropped()
    {
        var catalog = new RecordCatalog(DimensionPolicy.Parse("cdn.egress.bytes=region,colo"));
        var r1 = ParseOne(With("dimensions", """{"colo":"c1","plan":"pro","region":"eu"}"""), catalog: catalog).Record;
        var r2 = ParseOne(With("dimensions", """{"region":"eu","colo":"c1"}"""), catalog: catalog).Record;
        var r3 = ParseOne(With("dimensions", """{"region":"us"}"""), catalog: catalog).Record;
        Assert.NotEqual(0, r1.DimensionSetId);
        Assert.Equal(r1.DimensionSetId, r2.DimensionSetId);
        Assert.NotEqual(r1.DimensionSetId, r3.DimensionSetId);
        Assert.Equal([new("colo", "c1"), new("region", "eu")], catalog.DescribeDimensions(r1.DimensionSetId));
    }
}
