using Metering.Aggregates.Decoding;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Pipeline;

/// <summary>
/// A run of consecutive input lines, copied out of the read buffer by the <see cref="ChunkFramer"/>, decoded by
/// any <see cref="ChunkDecoder"/> thread, then consumed by the aggregating thread strictly in
/// <see cref="Sequence"/> order. It carries everything the sequential decoder produced for those lines, in line
/// order: the decoded records and the dead letters (those of the framer, i.e. oversize lines, in their place among
/// the decoder's). Reused through a pool; one owner at a time (framer, then a decoder, then the aggregator).
/// </summary>
internal sealed class LineChunk
{
    private readonly ManualResetEventSlim _decoded = new(false);

    public LineChunk(int maxLines, int byteCapacity)
    {
        Lines = new LineRef[maxLines];
        Bytes = new byte[byteCapacity];
        Records = new UsageRecord[maxLines];
    }

    /// <summary>Position of this chunk in the input (0, 1, 2, ...).</summary>
    public long Sequence;

    /// <summary>The lines' bytes, back to back (no terminators).</summary>
    public readonly byte[] Bytes;

    /// <summary>Bytes of <see cref="Bytes"/> in use.</summary>
    public int Used;

    /// <summary>The lines (and the framer's rejects) in input order.</summary>
    public readonly LineRef[] Lines;

    /// <summary>Entries of <see cref="Lines"/> in use.</summary>
    public int LineCount;

    /// <summary>Dead letters the framer decided (oversize lines), referenced from <see cref="Lines"/> by index.</summary>
    public readonly List<DeadLetter> FramerLetters = [];

    /// <summary>Most records the lines can yield (a CloudEvents batch line yields several): bounds the new catalog strings.</summary>
    public long RecordBound;

    /// <summary>Decoded records in input order.</summary>
    public UsageRecord[] Records;

    /// <summary>Entries of <see cref="Records"/> in use.</summary>
    public int RecordCount;

    /// <summary>Every dead letter of the chunk's lines, in input order.</summary>
    public readonly List<DeadLetter> Letters = [];

    /// <summary>Records read (non-blank lines, or events of a batch line).</summary>
    public long Read;

    /// <summary>Rejects by reason.</summary>
    public readonly long[] Rejected = new long[RejectReasons.Count];

    /// <summary>What the decoder threw, if it did (a bug: ordinary bad input never throws).</summary>
    public Exception? Failure;

    /// <summary>True when the line array or the byte buffer has no room for a line of <paramref name="length"/> bytes.</summary>
    public bool IsFullFor(int length) => LineCount == Lines.Length || Bytes.Length - Used < length;

    /// <summary>Appends one record to <see cref="Records"/>, growing it when a batch line yields many.</summary>
    public void AddRecord(in UsageRecord record)
    {
        if (RecordCount == Records.Length)
        {
            Array.Resize(ref Records, Records.Length * 2);
        }

        Records[RecordCount++] = record;
    }

    /// <summary>Marks the chunk decoded (by its decoder thread).</summary>
    public void MarkDecoded() => _decoded.Set();

    /// <summary>Waits until the chunk is decoded (the aggregating thread).</summary>
    public void WaitDecoded() => _decoded.Wait();

    /// <summary>Empties the chunk for reuse.</summary>
    public void Reset()
    {
        Used = 0;
        LineCount = 0;
        RecordCount = 0;
        RecordBound = 0;
        Read = 0;
        Failure = null;
        FramerLetters.Clear();
        Letters.Clear();
        Array.Clear(Rejected);
        _decoded.Reset();
    }
}

/// <summary>
/// One line of a <see cref="LineChunk"/>: its bytes at <see cref="Start"/> (<see cref="Length"/> long), or, when
/// <see cref="Start"/> is negative, the framer's dead letter number <see cref="Length"/>.
/// </summary>
internal readonly record struct LineRef(int Start, int Length, long LineNumber, long Offset);
