using System.Runtime.CompilerServices;
using System.Buffers;
using System.IO.Pipelines;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Pipeline;

/// <summary>
/// The file pipeline's framing: splits the input into NDJSON lines exactly as <see cref="NdjsonStreamDecoder"/> does
/// (same reads, same line numbers and offsets, CRLF, blank lines, and the same oversize rule: a line longer than
/// <see cref="DecoderOptions.MaxLineBytes"/> is dead-lettered here, whole or, when no newline came within the
/// limit, with its first bytes, and skipped to its newline), but does not decode: it copies each line into a
/// <see cref="LineChunk"/> and hands full chunks on, so several threads can decode while the order of the input is
/// kept by the chunks' sequence numbers. Copying a line is a memcpy of ~160 bytes; decoding it is the expensive part.
/// </summary>
internal sealed class ChunkFramer(DecoderOptions options, bool cloudEventBatches, Func<LineChunk> take, Action<LineChunk> dispatch)
{
    private LineChunk _chunk = take();
    private long _lineNumber;
    private long _offset;
    private long _sequence;

    /// <summary>Bytes read so far (every byte of the input: lines, terminators, blank and skipped lines).</summary>
    public long Bytes { get; private set; }

    /// <summary>Frames all of <paramref name="input"/>, dispatching every chunk (the last one partial).</summary>
    public async Task FrameAsync(PipeReader input, CancellationToken cancellationToken)
    {
        var skipping = false; // inside an oversize line, discarding up to its newline
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var consumed = ProcessBuffer(buffer, result.IsCompleted, ref skipping);
            input.AdvanceTo(consumed, buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        if (_chunk.LineCount > 0)
        {
            Dispatch();
        }
    }

    // The same walk as NdjsonStreamDecoder.ProcessBuffer, so lines and oversize verdicts match it byte for byte.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private SequencePosition ProcessBuffer(ReadOnlySequence<byte> buffer, bool isFinal, ref bool skipping)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (true)
        {
            var lineStart = reader.Position;
            if (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
            {
                if (skipping)
                {
                    skipping = false; // the tail of an oversize line, already dead-lettered
                }
                else
                {
                    AddLine(line);
                }

                Advance(line.Length + 1);
                continue;
            }

            var rest = reader.UnreadSequence;
            if (skipping)
            {
                Advance(rest.Length);
                return rest.End;
            }

            if (isFinal)
            {
                if (!rest.IsEmpty)
                {
                    AddLine(rest);
                    Advance(rest.Length);
                }

                return rest.End;
            }

            if (rest.Length > options.MaxLineBytes)
            {
                // No newline within the limit: reject now with a prefix, and skip the remainder as it arrives.
                _lineNumber++;
                RejectOversize(rest, rest.Length, complete: false);
                Advance(rest.Length);
                skipping = true;
                return rest.End;
            }

            return lineStart;
        }
    }

    private void Advance(long bytes)
    {
        _offset += bytes;
        Bytes += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddLine(ReadOnlySequence<byte> line)
    {
        _lineNumber++;
        var length = line.Length;
        if (length > 0 && line.Slice(length - 1).FirstSpan[0] == (byte)'\r')
        {
            length--; // CRLF line endings
        }

        if (length > options.MaxLineBytes)
        {
            RejectOversize(line, length, complete: true);
            return;
        }

        var n = (int)length;
        if (_chunk.IsFullFor(n))
        {
            Dispatch();
        }

        var chunk = _chunk;
        var target = chunk.Bytes.AsSpan(chunk.Used, n);
        if (line.IsSingleSegment)
        {
            line.FirstSpan[..n].CopyTo(target);
        }
        else
        {
            line.Slice(0, n).CopyTo(target);
        }

        var first = target.IndexOfAnyExcept((byte)' ', (byte)'\t');
        if (first < 0)
        {
            return; // blank line: not a record (its bytes are overwritten by the next line)
        }

        chunk.Lines[chunk.LineCount++] = new LineRef(chunk.Used, n, _lineNumber, _offset);
        chunk.Used += n;

        // A CloudEvents batch line yields at most one record per element, and an element takes 2 bytes at least
        // (a value and a comma): a bound, however loose, is all the catalog's check needs.
        chunk.RecordBound += cloudEventBatches && target[first] == (byte)'[' ? (n / 2) + 1 : 1;
    }

    private void RejectOversize(ReadOnlySequence<byte> seen, long lengthSoFar, bool complete)
    {
        var prefix = seen.Slice(0, Math.Min(seen.Length, options.OversizeLinePrefixBytes)).ToArray();
        var detail = complete
            ? $"line is {lengthSoFar} bytes; the limit is {options.MaxLineBytes}"
            : $"line exceeds the {options.MaxLineBytes}-byte limit (no newline within it); skipped to its end";
        if (_chunk.LineCount == _chunk.Lines.Length)
        {
            Dispatch();
        }

        var chunk = _chunk;
        chunk.Lines[chunk.LineCount++] = new LineRef(-1, chunk.FramerLetters.Count, _lineNumber, _offset);
        chunk.FramerLetters.Add(new DeadLetter(_lineNumber, _offset, RejectReason.LineTooLong, detail, prefix, lengthSoFar));
    }

    private void Dispatch()
    {
        var full = _chunk;
        full.Sequence = _sequence++;
        dispatch(full);
        _chunk = take();
    }
}
