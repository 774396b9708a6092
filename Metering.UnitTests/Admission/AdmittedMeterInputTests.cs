using System.Text;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.UnitTests.Decoding;

namespace Metering.UnitTests.Admission;

/// <summary>
/// What a latest or unique_count meter reads of an admitted record beyond its <see cref="UsageRecord"/>: the event id
/// after JSON unescaping, and any dimension's value whether the catalog keeps it or not (docs/meters.md).
/// </summary>
public class AdmittedMeterInputTests
{
    private static RecordAdmission Admission() => new(new RecordCatalog(), new AdmissionOptions { Decoder = DecoderTestKit.Options() });

    private static string Line(string idJson, string dimensions = """{"user_id":"u1","region":"eu"}""") =>
        $$"""{"id":{{idJson}},"account":"acct-1","sku":"app.users","quantity":"1","time":"2026-11-24T11:59:00Z","dimensions":{{dimensions}}}""";

    [Theory]
    [InlineData("\"evt-10\"", "evt-10")]
    [InlineData("\"\\u00e9v\"", "év")]
    [InlineData("\"\\ud834\\udd1e-1\"", "𝄞-1")]
    [InlineData("\"a\\\"b\"", "a\"b")]
    public void The_admitted_id_is_the_ids_utf8_after_json_unescaping_read_in_place_or_unescaped(string idJson, string id)
    {
        var admission = Admission();
        var raw = Encoding.UTF8.GetBytes(Line(idJson));
        Assert.Equal(RejectReason.None, admission.Admit(raw, out _, out _));
        Assert.Equal(Encoding.UTF8.GetBytes(id), admission.AdmittedId(raw).ToArray());
    }

    [Fact]
    public void A_dimension_the_catalog_does_not_keep_is_still_read_and_an_absent_one_is_missing()
    {
        var admission = Admission(); // keeps no dimension: the record's dimension set is 0
        var raw = Encoding.UTF8.GetBytes(Line("\"e-1\"", """{"region":"eu","user_id":"\u00fc-1"}"""));
        Assert.Equal(RejectReason.None, admission.Admit(raw, out var record, out _));
        Assert.Equal(0, record.DimensionSetId);
        Assert.True(admission.TryGetAdmittedDimension("user_id"u8, out var value));
        Assert.Equal("ü-1", Encoding.UTF8.GetString(value));
        Assert.False(admission.TryGetAdmittedDimension("user"u8, out _));

        // The next record's answers are its own: one without dimensions has none.
        var bare = Encoding.UTF8.GetBytes(Line("\"e-2\"", "null"));
        Assert.Equal(RejectReason.None, admission.Admit(bare, out _, out _));
        Assert.False(admission.TryGetAdmittedDimension("user_id"u8, out _));
        Assert.Equal("e-2"u8.ToArray(), admission.AdmittedId(bare).ToArray());
    }

    [Fact]
    public void Reading_the_id_and_a_dimension_allocates_nothing()
    {
        var admission = Admission();
        var raw = Encoding.UTF8.GetBytes(Line("\"\\u00e9v\""));
        Assert.Equal(RejectReason.None, admission.Admit(raw, out _, out _));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var length = admission.AdmittedId(raw).Length;
        var found = admission.TryGetAdmittedDimension("user_id"u8, out var value);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal((3, true, 2), (length, found, value.Length));
        Assert.Equal(0, allocated);
    }
}
