using System.Buffers.Binary;
using System.IO.Hashing;

namespace Metering.Aggregates.Dedup;

/// <summary>
/// The 64-bit digest of a record's billed payload, kept next to its id fingerprint by every dedup store so a record
/// re-sent with the same id tells a true duplicate (same digest) from a conflict (different digest). The one
/// implementation the engine, the file mode and the HTTP edge use (through <see cref="Decoding.UsageRecordParser"/>).
/// <para>
/// Covered, in canonical form: the SKU (its unescaped bytes), the quantity as exact nano-units (so "1.50", "1.5",
/// 1.5 and 15e-1 are one quantity), the event time as UTC ticks (so offsets and fraction digits that name the same
/// instant are one time), and every dimension as an unordered set of (key, value) pairs (field order never
/// matters), whatever the dimension policy keeps. Not covered: account and id (they are the fingerprint), JSON
/// whitespace, escaping and field order, and unknown fields (ignored by the parser, so they bill nothing).
/// </para>
/// <para>
/// Stable across processes and versions (it is persisted and shared through Redis): changing the encoding below
/// is a format change. <see cref="None"/> (0) is reserved for "no digest known" (an entry persisted before
/// digests existed); a computed 0 is stored as 1. Allocation-free and thread-safe (pure functions).
/// </para>
/// </summary>
public static class PayloadDigest
{
    /// <summary>No digest known: a record matched against such an entry is a duplicate, never a conflict.</summary>
    public const ulong None = 0;

    // Domain separators (seeds), so a pair hash can never equal a SKU hash of the same bytes.
    private const long PairSeed = 0x5D1A_6E0C_31F7_2B49;
    private const long SkuSeed = 0x0B8E_4C27_D95A_61F3;

    /// <summary>
    /// The contribution of one dimension: combined by addition (mod 2^64) into the sum given to <see cref="Of"/>, so
    /// the order of the pairs does not matter. Keys are unique within a record (the parser refuses a repeated key).
    /// </summary>
    public static ulong Pair(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        XxHash3.HashToUInt64(value, unchecked((long)XxHash3.HashToUInt64(key, PairSeed)));

    /// <summary>
    /// The digest of a record: <paramref name="dimensionCount"/> pairs whose <see cref="Pair"/> values add up to
    /// <paramref name="dimensionSum"/>. Never returns <see cref="None"/>.
    /// </summary>
    public static ulong Of(ReadOnlySpan<byte> sku, long quantityNanos, long timeTicks, int dimensionCount, ulong dimensionSum)
    {
        Span<byte> fixedPart = stackalloc byte[28];
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart, quantityNanos);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[8..], timeTicks);
        BinaryPrimitives.WriteInt32LittleEndian(fixedPart[16..], dimensionCount);
        BinaryPrimitives.WriteUInt64LittleEndian(fixedPart[20..], dimensionSum);
        var digest = XxHash3.HashToUInt64(fixedPart, unchecked((long)XxHash3.HashToUInt64(sku, SkuSeed)));
        return digest == None ? 1 : digest;
    }

    /// <summary>
    /// The judgement every dedup store makes for an id it has seen: a conflict when both digests are known and
    /// differ, otherwise a duplicate (an entry without a digest cannot tell, and a duplicate is what it was before).
    /// </summary>
    public static bool Conflicts(ulong first, ulong again) => first != None && again != None && first != again;
}
