using System.Buffers;
using System.IO.Pipelines;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Records;

namespace Metering.Aggregates.Framing;

/// <summary>
/// Splits a byte stream into NDJSON lines with <see cref="System.IO.Pipelines"/> and admits each with the shared
/// <see cref="RecordAdmission"/> (the same rule the streaming engine and the HTTP edge apply). Lines split across buffer segments are handled without copying the stream:
/// only a line that straddles segments is copied, into one scratch buffer capped at
/// <see cref="DecoderOptions.MaxLineBytes"/>. An oversize line is dead-lettered (with its first bytes and its
/// offset and length) and skipped up to its newline, never buffered whole. Blank lines are ignored.
/// Every non-blank line ends up either in a batch or in a dead letter: never dropped, never twice.
/// </summary>
public sealed class NdjsonStreamDecoder
{
    private readonly RecordAdmission _admission;
    private readonly DecoderOptions _options;
    private readonly byte[] _lineScratch;
    private RecordBatch? _spareBatch;
    private long _lineNumber;
    private long _offset;

    /// <summary>Creates a decoder; <paramref name="admission"/> must not be shared with another thread.</summary>
    public NdjsonStreamDecoder(RecordAdmission admission)
    {
        ArgumentNullException.ThrowIfNull(admission);
        _admission = admission;
        _options = admission.Options.Decoder;
        _lineScratch = new byte[_options.MaxLineBytes + 1];
    }

    /// <summary>Counters of this decoder.</summary>
    public DecodeCounters Counters { get; } = new();

    /// <summary>Decodes all of <paramref name="input"/>, handing full batches and the final partial batch to <paramref name="sink"/>.</summary>
    public async Task DecodeAsync(PipeReader input, IRecordSink sink, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(sink);
        var batch = TakeBatch();
        var skipping = false; // inside an oversize line, discarding up to its newline
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            _admission.BeginChunk(); // the clock is read at least once per read, however long the input was idle
            var buffer = result.Buffer;
            var consumed = ProcessBuffer(ref buffer, result.IsCompleted, ref batch, sink, ref skipping);
            input.AdvanceTo(consumed, buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        _spareBatch = batch.Count > 0 ? sink.OnBatch(batch) : batch;
    }

    /// <summary>Decodes a complete in-memory input (tests, benchmarks).</summary>
    public void Decode(ReadOnlySequence<byte> input, IRecordSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _admission.BeginChunk();
        var batch = TakeBatch();
        var skipping = false;
        ProcessBuffer(ref input, true, ref batch, sink, ref skipping);
        _spareBatch = batch.Count > 0 ? sink.OnBatch(batch) : batch;
    }

    /// <summary>The batch to fill: the one the sink handed back after the previous input, or a new one.</summary>
    private RecordBatch TakeBatch()
    {
        var batch = _spareBatch ?? new RecordBatch(_options.BatchSize);
        _spareBatch = null;
        batch.Count = 0;
        return batch;
    }

    private SequencePosition ProcessBuffer(ref ReadOnlySequence<byte> buffer, bool isFinal, ref RecordBatch batch, IRecordSink sink, ref bool skipping)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            var lineStart = reader.Position;
            if (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
            {
                if (skipping)
                {
                    // The tail of an oversize line, already dead-lettered.
                    _offset += line.Length + 1;
                    Counters.Bytes += line.Length + 1;
                    skipping = false;
                    continue;
                }

                HandleLine(line, ref batch, sink);
                _offset += line.Length + 1;
                Counters.Bytes += line.Length + 1;
                continue;
            }

            var rest = reader.UnreadSequence;
            if (skipping)
            {
                _offset += rest.Length;
                Counters.Bytes += rest.Length;
                return rest.End;
            }

            if (isFinal)
            {
                if (!rest.IsEmpty)
                {
                    HandleLine(rest, ref batch, sink);
                    _offset += rest.Length;
                    Counters.Bytes += rest.Length;
                }

                return rest.End;
            }

            if (rest.Length > _options.MaxLineBytes)
            {
                // No newline within the limit: reject now with a prefix, and skip the remainder as it arrives.
                RejectOversize(rest, rest.Length, false, sink);
                _offset += rest.Length;
                Counters.Bytes += rest.Length;
                skipping = true;
                return rest.End;
            }

            return lineStart;
        }
    }

    private void HandleLine(ReadOnlySequence<byte> line, ref RecordBatch batch, IRecordSink sink)
    {
        _lineNumber++;
        var length = line.Length;
        if (length > 0 && EndsWithCarriageReturn(line))
        {
            length--; // CRLF line endings
        }

        if (length > _options.MaxLineBytes)
        {
            RejectOversize(line, length, true, sink);
            return;
        }

        ReadOnlySpan<byte> span;
        if (line.IsSingleSegment)
        {
            span = line.FirstSpan[..(int)length];
        }
        else
        {
            line.Slice(0, length).CopyTo(_lineScratch);
            span = _lineScratch.AsSpan(0, (int)length);
        }

        if (span.IsEmpty || span.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0)
        {
            return; // blank line: not a record
        }

        Counters.Read++;
        var reason = _admission.AdmitWithinLimit(span, out var record, out var detail);
        if (reason != RejectReason.None)
        {
            Counters.RejectedByReason[(int)reason]++;
            sink.OnDeadLetter(new DeadLetter(_lineNumber, _offset, reason, detail, span.ToArray(), span.Length));
            return;
        }

        Counters.Decoded++;
        record.LineNumber = _lineNumber;
        batch.Items[batch.Count++] = record;
        if (batch.IsFull)
        {
            batch = sink.OnBatch(batch);
            batch.Count = 0;
        }
    }

    private void RejectOversize(ReadOnlySequence<byte> seen, long lengthSoFar, bool complete, IRecordSink sink)
    {
        if (!complete)
        {
            _lineNumber++;
        }

        Counters.Read++;
        Counters.RejectedByReason[(int)RejectReason.LineTooLong]++;
        var prefix = seen.Slice(0, Math.Min(seen.Length, _options.OversizeLinePrefixBytes)).ToArray();
        var detail = complete
            ? $"line is {lengthSoFar} bytes; the limit is {_options.MaxLineBytes}"
            : $"line exceeds the {_options.MaxLineBytes}-byte limit (no newline within it); skipped to its end";
        sink.OnDeadLetter(new DeadLetter(_lineNumber, _offset, RejectReason.LineTooLong, detail, prefix, lengthSoFar));
    }

    private static bool EndsWithCarriageReturn(ReadOnlySequence<byte> line)
    {
        var last = line.Slice(line.Length - 1);
        return last.FirstSpan[0] == (byte)'\r';
    }
}
