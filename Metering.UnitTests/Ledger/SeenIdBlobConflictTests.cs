using System.Buffers.Binary;
using Metering.Aggregates.Dedup;
using Metering.Ledger.Flush;

namespace Metering.UnitTests.Ledger;

/// <summary>The seen_id_batches blob formats: version 2 keeps payload digests, version 1 blobs still load.</summary>
public class SeenIdBlobConflictTests
{
    private static readonly long Start = new DateTime(2026, 11, 24, 0, 0, 0, DateTimeKind.Utc).Ticks;

    [Fact]
    public void A_version_2_blob_round_trips_fingerprint_digest_and_time()
    {
        SeenId[] ids = [new(new UInt128(1, 2), 0xDEAD_BEEF_0000_0001, Start), new(new UInt128(3, 4), 7, Start + 10)];
        var blob = SeenIdStore.Encode(ids);
        Assert.Equal(SeenIdStore.Version2, blob[0]);
        Assert.Equal(1 + (2 * 32), blob.Length);
        var decoded = new List<SeenId>();
        SeenIdStore.Decode(blob, decoded);
        Assert.Equal(ids, decoded);
    }

    [Fact]
    public void A_version_1_blob_loads_without_digests_so_a_match_against_it_stays_a_duplicate()
    {
        // The format written before digests: n x (16-byte fingerprint, 8-byte ticks), big-endian, no header.
        var v1 = new byte[2 * 24];
        BinaryPrimitives.WriteUInt128BigEndian(v1, new UInt128(5, 6));
        BinaryPrimitives.WriteInt64BigEndian(v1.AsSpan(16), Start);
        BinaryPrimitives.WriteUInt128BigEndian(v1.AsSpan(24), new UInt128(7, 8));
        BinaryPrimitives.WriteInt64BigEndian(v1.AsSpan(40), Start + 1);
        var decoded = new List<SeenId>();
        SeenIdStore.Decode(v1, decoded);
        Assert.Equal([new SeenId(new UInt128(5, 6), PayloadDigest.None, Start), new SeenId(new UInt128(7, 8), PayloadDigest.None, Start + 1)], decoded);

        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        foreach (var id in decoded)
        {
            dedup.Check(id.Fingerprint, id.PayloadDigest, id.TimeTicks);
        }

        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(5, 6), 99, Start));
    }

    [Fact]
    public void Ids_reloaded_from_a_version_2_blob_still_tell_a_conflict_from_a_duplicate()
    {
        var blob = SeenIdStore.Encode([new SeenId(new UInt128(9, 9), 1234, Start)]);
        var decoded = new List<SeenId>();
        SeenIdStore.Decode(blob, decoded);
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        dedup.Check(decoded[0].Fingerprint, decoded[0].PayloadDigest, decoded[0].TimeTicks);
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(9, 9), 1234, Start));
        Assert.Equal(DedupVerdict.Conflict, dedup.Check(new UInt128(9, 9), 4321, Start));
    }

    [Fact]
    public void A_blob_of_an_unknown_newer_version_is_refused_loudly()
    {
        var blob = new byte[1 + 32];
        blob[0] = 3;
        var e = Assert.Throws<InvalidDataException>(() => SeenIdStore.Decode(blob, []));
        Assert.Contains("version 3", e.Message, StringComparison.Ordinal);
    }
}
