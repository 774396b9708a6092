using System.Text;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.UnitTests.Decoding;

namespace Metering.UnitTests.Dedup;

/// <summary>The payload digest the parser computes, and the conflict rule of the dedup horizon built on it.</summary>
public class PayloadDigestConflictTests
{
    private const string Base = """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""";
    private static readonly long Start = new DateTime(2026, 11, 24, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private static UsageRecord Parse(string line, DimensionPolicy? dimensions = null)
    {
        var parser = new UsageRecordParser(new RecordCatalog(dimensions ?? DimensionPolicy.KeepNone), new DecoderOptions { Clock = new FixedClock(FixedClock.Default) });
        var reason = parser.Parse(Encoding.UTF8.GetBytes(line), out var record, out var detail);
        Assert.True(reason == RejectReason.None, detail);
        return record;
    }

    [Theory]
    [InlineData("""{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.50","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("""{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":1.5,"time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("""{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":15e-1,"time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("""{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.500000000","time":"2026-11-24T11:00:00.000+01:00","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("""{"dimensions":{"tier":"gold","region":"eu"},"time":"2026-11-24T10:00:00Z","quantity":"1.5","sku":"api.calls","account":"acct-1","id":"e-1"}""")]
    [InlineData("""{ "id" : "e-1", "account":"acct-1", "sku":"api\u002ecalls", "quantity":"1.5", "time":"2026-11-24T10:00:00Z", "dimensions":{"re\u0067ion":"eu","tier":"gold"}, "note":"unknown fields bill nothing" }""")]
    public void The_same_payload_written_differently_has_the_same_digest(string line)
    {
        var record = Parse(line);
        Assert.Equal(Parse(Base).Fingerprint, record.Fingerprint);
        Assert.Equal(Parse(Base).PayloadDigest, record.PayloadDigest);
    }

    [Theory]
    [InlineData("quantity", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.6","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("quantity by a nano-unit", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.500000001","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("sku", """{"id":"e-1","account":"acct-1","sku":"api.call","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("time", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00.001Z","dimensions":{"region":"eu","tier":"gold"}}""")]
    [InlineData("a dimension value", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"us","tier":"gold"}}""")]
    [InlineData("a dimension less", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu"}}""")]
    [InlineData("a dimension more", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","tier":"gold","zone":"a"}}""")]
    [InlineData("key and value swapped", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"eu":"region","tier":"gold"}}""")]
    [InlineData("the key/value split", """{"id":"e-1","account":"acct-1","sku":"api.calls","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"regione":"u","tier":"gold"}}""")]
    public void Any_billed_field_changed_changes_the_digest_but_not_the_fingerprint(string what, string line)
    {
        var record = Parse(line);
        Assert.Equal(Parse(Base).Fingerprint, record.Fingerprint);
        Assert.True(Parse(Base).PayloadDigest != record.PayloadDigest, what);
        Assert.True(PayloadDigest.Conflicts(Parse(Base).PayloadDigest, record.PayloadDigest), what);
    }

    [Fact]
    public void The_digest_covers_every_dimension_whatever_the_dimension_policy_keeps()
    {
        // The edge keeps no dimensions and the engine may keep some: both must compute the same digest.
        var keepRegion = DimensionPolicy.Parse("api.calls=region");
        Assert.Equal(Parse(Base).PayloadDigest, Parse(Base, keepRegion).PayloadDigest);
        var otherTier = Base.Replace("\"gold\"", "\"silver\"", StringComparison.Ordinal);
        Assert.NotEqual(Parse(Base, keepRegion).PayloadDigest, Parse(otherTier, keepRegion).PayloadDigest);
    }

    [Fact]
    public void A_parsed_record_never_has_the_reserved_no_digest_value()
    {
        Assert.NotEqual(PayloadDigest.None, Parse(Base).PayloadDigest);
        Assert.NotEqual(PayloadDigest.None, PayloadDigest.Of([], 0, 0, 0, 0));
    }

    [Fact]
    public void Digest_is_allocation_free()
    {
        var sku = "api.calls"u8.ToArray();
        _ = PayloadDigest.Of(sku, 1, 2, 1, PayloadDigest.Pair("k"u8, "v"u8));
        var before = GC.GetAllocatedBytesForCurrentThread();
        ulong sum = 0;
        for (var i = 0; i < 1000; i++)
        {
            sum += PayloadDigest.Of(sku, i, 2, 1, PayloadDigest.Pair("k"u8, "v"u8));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0UL, sum);
    }

    [Fact]
    public void The_same_id_with_another_payload_is_a_conflict_and_the_first_payload_stays_remembered()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        var id = new UInt128(7, 7);
        Assert.Equal(DedupVerdict.New, dedup.Check(id, 100, Start));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(id, 100, Start));
        Assert.Equal(DedupVerdict.Conflict, dedup.Check(id, 200, Start));
        // The conflict did not replace the first payload: the first is still a duplicate, the second still a conflict.
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(id, 100, Start));
        Assert.Equal(DedupVerdict.Conflict, dedup.Check(id, 200, Start));
    }

    [Fact]
    public void An_id_remembered_without_a_digest_answers_duplicate_never_conflict()
    {
        // Entries of a version 1 seen-id blob carry no digest: what was a duplicate before stays one.
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        var id = new UInt128(8, 8);
        Assert.Equal(DedupVerdict.New, dedup.Check(id, PayloadDigest.None, Start));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(id, 12345, Start));
    }

    [Fact]
    public void Conflict_detection_survives_the_table_growing_and_sweeping()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(1));
        for (var i = 0; i < 50_000; i++)
        {
            Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(3, (ulong)i + 1), (ulong)i + 1000, Start + (i * TimeSpan.TicksPerMillisecond)));
        }

        Assert.Equal(DedupVerdict.Conflict, dedup.Check(new UInt128(3, 1), 1, Start + TimeSpan.FromMinutes(1).Ticks));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(3, 1), 1000, Start + TimeSpan.FromMinutes(1).Ticks));
    }

    [Fact]
    public void The_conflict_detail_names_the_id_and_says_the_payload_differs()
    {
        var detail = ConflictDetail.Of(Encoding.UTF8.GetBytes(Base), "this engine's dedup horizon");
        Assert.Contains("id 'e-1' of account 'acct-1'", detail, StringComparison.Ordinal);
        Assert.Contains(ConflictDetail.Text, detail, StringComparison.Ordinal);
        Assert.StartsWith(ConflictDetail.Text, ConflictDetail.Of([], "x"), StringComparison.Ordinal);
    }

    [Fact]
    public void Conflict_is_a_reject_reason_with_a_stable_code()
    {
        Assert.Equal("conflict", RejectReason.Conflict.Code());
        Assert.Equal(RejectReasons.Count, Enum.GetValues<RejectReason>().Length);
    }
}
