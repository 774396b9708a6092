namespace Metering.Rating.Meters;

/// <summary>
/// Nano-units (10^-9, the record contract's fixed point) to <see cref="decimal"/>, exactly. The same conversion as
/// Metering.Aggregates' <c>FixedPoint.TryToDecimal</c>; Rating does not reference Aggregates (the two pure stages are
/// independent), so the four lines live on both sides.
/// </summary>
internal static class Nanos
{
    public const int Scale = 9;

    public static bool TryToDecimal(Int128 nanos, out decimal value)
    {
        var negative = nanos < 0;
        var magnitude = negative ? (UInt128)(-nanos) : (UInt128)nanos;
        if (magnitude >> 96 != 0)
        {
            value = 0;
            return false;
        }

        value = new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), (int)(uint)(magnitude >> 64), negative, Scale);
        return true;
    }
}
