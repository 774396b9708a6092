using Metering.Aggregates.Records;

namespace Metering.UnitTests.Records;

public class FixedPointTests
{
    [Theory]
    [InlineData(0L, "0")]
    [InlineData(1L, "0.000000001")]
    [InlineData(1_536_250_000_000L, "1536.25")]
    [InlineData(long.MaxValue, "9223372036.854775807")]
    [InlineData(-1_500_000_000L, "-1.5")]
    public void Format_writes_exact_decimals_without_trailing_zeros(long nanos, string text)
    {
        Assert.Equal(text, FixedPoint.Format(nanos));
        Assert.Equal(nanos, (long)FixedPoint.ParseSum(text));
    }

    [Fact]
    public void Sums_beyond_decimal_range_format_exactly_and_refuse_conversion()
    {
        var huge = (Int128)long.MaxValue * long.MaxValue; // about 8.5 x 10^37 nanos
        Assert.Equal(huge, FixedPoint.ParseSum(FixedPoint.Format(huge)));
        Assert.False(FixedPoint.TryToDecimal(huge, out _));
        var tenToThe18Units = (Int128)1_000_000_000_000_000_000L * FixedPoint.NanosPerUnit + 123_456_789;
        Assert.True(FixedPoint.TryToDecimal(tenToThe18Units, out var d));
        Assert.Equal(1_000_000_000_000_000_000.123456789m, d);
    }

    [Theory]
    [InlineData("1.", FixedPoint.ParseStatus.Invalid)]
    [InlineData(".5", FixedPoint.ParseStatus.Invalid)]
    [InlineData("1e", FixedPoint.ParseStatus.Invalid)]
    [InlineData("+1", FixedPoint.ParseStatus.Invalid)]
    [InlineData("0x10", FixedPoint.ParseStatus.Invalid)]
    [InlineData("1 ", FixedPoint.ParseStatus.Invalid)]
    [InlineData("-3", FixedPoint.ParseStatus.Negative)]
    [InlineData("1.0000000001", FixedPoint.ParseStatus.TooPrecise)]
    [InlineData("9223372036.854775808", FixedPoint.ParseStatus.TooLarge)]
    [InlineData("100000000000000000000000000000000000000000", FixedPoint.ParseStatus.TooLarge)]
    [InlineData("0.1000000000000000000000000000000000000000", FixedPoint.ParseStatus.Ok)]
    public void Parse_classifies_bad_quantities(string text, FixedPoint.ParseStatus expected) =>
        Assert.Equal(expected, FixedPoint.TryParse(System.Text.Encoding.ASCII.GetBytes(text), out _));
}
