using System.Buffers.Binary;
using Metering.Aggregates.Dedup;

namespace Metering.Ledger.Flush;

/// <summary>
/// The format of one seen_id_blocks block: the byte 0x01, then n x 24 bytes (16-byte fingerprint, 8-byte payload
/// digest, big-endian), sorted by fingerprint (unsigned, so big-endian byte order is the sort order), so a lookup is
/// a binary search. The event time is not stored: the block's row names the day, and a duplicate carries the same
/// event time as the record first counted (its digest covers the time).
/// </summary>
internal static class SeenIdBlock
{
    /// <summary>The header byte of the only format.</summary>
    internal const byte Version1 = 1;

    /// <summary>Bytes per id.</summary>
    internal const int EntryBytes = 24;

    /// <summary>The UTC event day of <paramref name="timeTicks"/>, the block a record's id is stored in and looked up in.</summary>
    internal static DateOnly DayOf(long timeTicks) => DateOnly.FromDateTime(new DateTime(timeTicks, DateTimeKind.Utc));

    /// <summary>The block of <paramref name="ids"/> (sorted here; distinct fingerprints expected, as a flush's new ids are).</summary>
    internal static byte[] Encode(List<SeenId> ids)
    {
        ids.Sort((a, b) => a.Fingerprint.CompareTo(b.Fingerprint));
        var block = new byte[1 + (ids.Count * EntryBytes)];
        block[0] = Version1;
        for (var i = 0; i < ids.Count; i++)
        {
            var entry = block.AsSpan(1 + (i * EntryBytes), EntryBytes);
            BinaryPrimitives.WriteUInt128BigEndian(entry, ids[i].Fingerprint);
            BinaryPrimitives.WriteUInt64BigEndian(entry[16..], ids[i].PayloadDigest);
        }

        return block;
    }

    /// <summary>Finds <paramref name="fingerprint"/> in <paramref name="block"/>; its digest in <paramref name="digest"/>.</summary>
    internal static bool TryFind(ReadOnlySpan<byte> block, UInt128 fingerprint, out ulong digest)
    {
        if (block.Length == 0 || block[0] != Version1 || (block.Length - 1) % EntryBytes != 0)
        {
            // Written by a newer version this one does not know: refusing is safer than a lookup with holes.
            throw new InvalidDataException($"seen_id_blocks holds a block of format {(block.Length == 0 ? "(empty)" : block[0].ToString(System.Globalization.CultureInfo.InvariantCulture))} and {block.Length} bytes; this version reads format 1");
        }

        var entries = block[1..];
        int lo = 0, hi = (entries.Length / EntryBytes) - 1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) >> 1);
            var entry = entries.Slice(mid * EntryBytes, EntryBytes);
            var key = BinaryPrimitives.ReadUInt128BigEndian(entry);
            if (key == fingerprint)
            {
                digest = BinaryPrimitives.ReadUInt64BigEndian(entry[16..]);
                return true;
            }

            if (key < fingerprint)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        digest = PayloadDigest.None;
        return false;
    }
}
