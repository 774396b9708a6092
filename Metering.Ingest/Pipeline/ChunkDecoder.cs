using System.Runtime.CompilerServices;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;

namespace Metering.Ingest.Pipeline;

/// <summary>
/// One decoding thread of the file pipeline: admits every line of a <see cref="LineChunk"/> by the one admission
/// rule (<see cref="RecordAdmission"/>; with an event mapping, CloudEvents lines are translated first), leaving the
/// records and the dead letters in the chunk in line order. Owns its admission (not thread-safe); the catalog it
/// interns into is shared (its lookups are lock-free, additions take a lock).
/// </summary>
internal sealed class ChunkDecoder(RecordAdmission admission, EventMapping? mapping)
{
    private readonly CloudEventLines? _cloudEvents = mapping is null ? null : new CloudEventLines(mapping);

    /// <summary>Decodes every line of <paramref name="chunk"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Decode(LineChunk chunk)
    {
        admission.BeginChunk(); // the clock is read once per chunk, as the sequential decoder read it once per read
        var bytes = chunk.Bytes;
        var lines = chunk.Lines;
        for (var i = 0; i < chunk.LineCount; i++)
        {
            var line = lines[i];
            if (line.Start < 0)
            {
                // Oversize: the framer already decided.
                var letter = chunk.FramerLetters[line.Length];
                chunk.Read++;
                chunk.Rejected[(int)letter.Reason]++;
                chunk.Letters.Add(letter);
                continue;
            }

            var span = bytes.AsSpan(line.Start, line.Length);
            if (_cloudEvents is null)
            {
                Admit(chunk, span, line.LineNumber, line.Offset);
                continue;
            }

            switch (CloudEventLines.Classify(span))
            {
                case CloudEventLines.Kind.Native:
                    Admit(chunk, span, line.LineNumber, line.Offset);
                    break;
                case CloudEventLines.Kind.Event:
                    AdmitEvent(chunk, span, line.LineNumber, line.Offset);
                    break;
                default:
                    var reason = _cloudEvents.Batch(span, out var events, out var detail);
                    if (reason != RejectReason.None)
                    {
                        chunk.Read++;
                        Reject(chunk, line.LineNumber, line.Offset, reason, detail, span);
                        break;
                    }

                    foreach (var (start, length) in events)
                    {
                        AdmitEvent(chunk, span.Slice(start, length), line.LineNumber, line.Offset + start);
                    }

                    break;
            }
        }
    }

    private void Admit(LineChunk chunk, ReadOnlySpan<byte> raw, long lineNumber, long offset)
    {
        chunk.Read++;
        var reason = admission.Admit(raw, out var record, out var detail);
        if (reason != RejectReason.None)
        {
            Reject(chunk, lineNumber, offset, reason, detail, raw);
            return;
        }

        record.LineNumber = lineNumber;
        chunk.AddRecord(in record);
    }

    private void AdmitEvent(LineChunk chunk, ReadOnlySpan<byte> raw, long lineNumber, long offset)
    {
        chunk.Read++;
        var reason = _cloudEvents!.Event(raw, out var native, out var detail);
        var record = default(UsageRecord);
        if (reason == RejectReason.None)
        {
            // The translated record meets the same admission as a native one; a reject keeps the event as its raw bytes.
            reason = admission.Admit(native.Span, out record, out detail);
        }

        if (reason != RejectReason.None)
        {
            Reject(chunk, lineNumber, offset, reason, detail, raw);
            return;
        }

        record.LineNumber = lineNumber;
        chunk.AddRecord(in record);
    }

    private static void Reject(LineChunk chunk, long lineNumber, long offset, RejectReason reason, string detail, ReadOnlySpan<byte> raw)
    {
        chunk.Rejected[(int)reason]++;
        chunk.Letters.Add(new DeadLetter(lineNumber, offset, reason, detail, raw.ToArray(), raw.Length));
    }
}
