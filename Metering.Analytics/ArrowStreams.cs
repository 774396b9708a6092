using System.Buffers.Binary;

namespace Metering.Analytics;

/// <summary>
/// Joins Arrow IPC streams of one schema into one stream without decoding them: the first stream's schema message,
/// then every stream's record-batch messages as they are (compressed bodies stay compressed), then one end-of-stream
/// marker. What lets the exporter send many outbox blobs as one large ClickHouse insert for the cost of a copy.
/// Streams with dictionary batches are not supported (the rated-window schema has none).
/// </summary>
public static class ArrowStreams
{
    private const uint Continuation = 0xFFFF_FFFF;

    /// <summary>One stream of <paramref name="streams"/>'s messages; throws <see cref="InvalidDataException"/> on a stream that is not framed as the IPC stream format.</summary>
    public static byte[] Concatenate(IReadOnlyList<ReadOnlyMemory<byte>> streams)
    {
        ArgumentNullException.ThrowIfNull(streams);
        ArgumentOutOfRangeException.ThrowIfZero(streams.Count);
        if (streams.Count == 1)
        {
            return streams[0].ToArray();
        }

        var parts = new (int Skip, int Length)[streams.Count];
        var total = 8L;
        for (var i = 0; i < streams.Count; i++)
        {
            var s = streams[i].Span;
            var schema = SchemaMessageLength(s, i);
            if (s.Length < schema + 8 || BinaryPrimitives.ReadUInt32LittleEndian(s[^8..]) != Continuation || BinaryPrimitives.ReadInt32LittleEndian(s[^4..]) != 0)
            {
                throw new InvalidDataException($"Arrow stream {i} does not end with the end-of-stream marker");
            }

            parts[i] = i == 0 ? (0, s.Length - 8) : (schema, s.Length - 8 - schema);
            total += parts[i].Length;
        }

        var joined = new byte[checked((int)total)];
        var at = 0;
        for (var i = 0; i < streams.Count; i++)
        {
            streams[i].Span.Slice(parts[i].Skip, parts[i].Length).CopyTo(joined.AsSpan(at));
            at += parts[i].Length;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(joined.AsSpan(at), Continuation); // the end-of-stream marker: length 0
        return joined;
    }

    /// <summary>Bytes of the leading schema message: continuation, metadata length, metadata (a schema has no body).</summary>
    private static int SchemaMessageLength(ReadOnlySpan<byte> stream, int index)
    {
        if (stream.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(stream) != Continuation)
        {
            throw new InvalidDataException($"Arrow stream {index} does not start with an IPC message");
        }

        var metadata = BinaryPrimitives.ReadInt32LittleEndian(stream[4..]);
        if (metadata <= 0 || metadata > stream.Length - 8)
        {
            throw new InvalidDataException($"Arrow stream {index}: schema message of {metadata} bytes in a stream of {stream.Length}");
        }

        return 8 + metadata;
    }
}
