using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// The usage-record id of a CloudEvent: <c>ce:</c> and 32 hex digits of XXH128 over the length of
/// <c>source</c> (4 bytes, little-endian), <c>source</c> and <c>id</c> (UTF-8). The length prefix keeps
/// ("a", "bc") and ("ab", "c") apart, so two sources' equal ids are two records; the same (source, id) is always
/// the same id, so a resent event is a duplicate. The record's idempotency key stays (account, id) as for native
/// records (docs/cloudevents.md "Identity").
/// </summary>
public static class CloudEventIds
{
    /// <summary>The prefix of every id made from a CloudEvent.</summary>
    public const string Prefix = "ce:";

    /// <summary>The record id of the event (<paramref name="source"/>, <paramref name="id"/>).</summary>
    public static string Of(string source, string id)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(id);
        var sourceBytes = Encoding.UTF8.GetByteCount(source);
        var buffer = new byte[4 + sourceBytes + Encoding.UTF8.GetByteCount(id)];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, sourceBytes);
        Encoding.UTF8.GetBytes(source, buffer.AsSpan(4));
        Encoding.UTF8.GetBytes(id, buffer.AsSpan(4 + sourceBytes));
        var hash = XxHash128.HashToUInt128(buffer);
        return Prefix + hash.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);
    }
}
