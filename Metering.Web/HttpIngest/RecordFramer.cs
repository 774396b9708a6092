using System.Buffers;

namespace Metering.Web.HttpIngest;

/// <summary>
/// Cuts a request body into records as its bytes arrive, whatever the segment boundaries: NDJSON lines, or the
/// elements of one JSON array (a small state machine that tracks strings, escapes and nesting, so a ',' or ']'
/// inside a string or a nested value does not end an element). Only the record being cut is held, in one scratch
/// buffer capped at the record limit; a longer record is reported as oversize and skipped to its end.
/// One instance per request; not thread-safe.
/// </summary>
public sealed class RecordFramer
{
    private static readonly SearchValues<byte> Structural = SearchValues.Create("\"{}[],"u8);

    private readonly BodyFormat _format;
    private readonly int _maxRecordBytes;
    private readonly byte[] _scratch;
    private int _length;
    private long _oversizeLength; // > 0 while inside an oversize record
    private State _state;
    private int _depth;
    private bool _inString;
    private bool _escape;
    private bool _afterComma;

    private enum State : byte
    {
        Start,
        BeforeElement,
        InElement,
        End,
    }

    /// <summary>Creates a framer for one body.</summary>
    public RecordFramer(BodyFormat format, int maxRecordBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecordBytes, 1);
        _format = format;
        _maxRecordBytes = maxRecordBytes;
        _scratch = new byte[maxRecordBytes + 1]; // + the CR of a CRLF line
    }

    /// <summary>Why the body is not a well-framed JSON array (null while it is); no more input is taken after it.</summary>
    public string? Error { get; private set; }

    /// <summary>Feeds the next bytes of the body; false after a framing error (see <see cref="Error"/>).</summary>
    public bool Feed(ReadOnlySpan<byte> data, IFramedRecordTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (Error is not null)
        {
            return false;
        }

        if (_format == BodyFormat.Ndjson)
        {
            FeedNdjson(data, target);
            return true;
        }

        return FeedArray(data, target);
    }

    /// <summary>Feeds every segment of <paramref name="data"/>.</summary>
    public bool Feed(in ReadOnlySequence<byte> data, IFramedRecordTarget target)
    {
        foreach (var segment in data)
        {
            if (!Feed(segment.Span, target))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The body ended: hands over the last record; false when a JSON array is incomplete.</summary>
    public bool Complete(IFramedRecordTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (Error is not null)
        {
            return false;
        }

        if (_format == BodyFormat.Ndjson)
        {
            EndLine(target);
            return true;
        }

        if (_state != State.End)
        {
            Error = _state == State.Start ? "the body is empty; expected a JSON array of records" : "the JSON array is not closed (the body ended inside it)";
            return false;
        }

        return true;
    }

    private void FeedNdjson(ReadOnlySpan<byte> data, IFramedRecordTarget target)
    {
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            if (newline < 0)
            {
                Append(data);
                return;
            }

            Append(data[..newline]);
            EndLine(target);
            data = data[(newline + 1)..];
        }
    }

    /// <summary>Ends a record that outgrew the limit: reports its length and resets; false when none is open.</summary>
    private bool EndOversize(IFramedRecordTarget target)
    {
        if (_oversizeLength <= 0)
        {
            return false;
        }

        var length = _oversizeLength;
        _oversizeLength = 0;
        _length = 0;
        target.OnOversize(length);
        return true;
    }

    private void EndLine(IFramedRecordTarget target)
    {
        if (EndOversize(target))
        {
            return;
        }

        var line = _scratch.AsSpan(0, _length);
        _length = 0;
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0)
        {
            return; // blank line: not a record
        }

        if (line.Length > _maxRecordBytes)
        {
            target.OnOversize(line.Length);
            return;
        }

        target.OnRecord(line);
    }

    private bool FeedArray(ReadOnlySpan<byte> data, IFramedRecordTarget target)
    {
        while (!data.IsEmpty)
        {
            switch (_state)
            {
                case State.Start:
                case State.BeforeElement:
                case State.End:
                {
                    var skip = data.IndexOfAnyExcept(" \t\r\n"u8);
                    if (skip < 0)
                    {
                        return true;
                    }

                    data = data[skip..];
                    var b = data[0];
                    if (_state == State.Start)
                    {
                        if (b != (byte)'[')
                        {
                            return Fail("an application/json body must be one JSON array of records");
                        }

                        _state = State.BeforeElement;
                        data = data[1..];
                    }
                    else if (_state == State.End)
                    {
                        return Fail("there is data after the closing ']' of the array");
                    }
                    else if (b == (byte)']')
                    {
                        if (_afterComma)
                        {
                            return Fail("a ',' is followed by ']' (trailing comma)");
                        }

                        _state = State.End;
                        data = data[1..];
                    }
                    else if (b == (byte)',')
                    {
                        return Fail("an array element is empty (',' where a record was expected)");
                    }
                    else
                    {
                        _state = State.InElement;
                        _depth = 0;
                        _inString = false;
                        _escape = false;
                    }

                    break;
                }

                case State.InElement:
                    data = ScanElement(data, target);
                    break;
            }
        }

        return true;
    }

    // Consumes bytes of the current element up to and including the ',' or ']' that ends it.
    private ReadOnlySpan<byte> ScanElement(ReadOnlySpan<byte> data, IFramedRecordTarget target)
    {
        while (!data.IsEmpty)
        {
            if (_inString)
            {
                if (_escape)
                {
                    Append(data[..1]);
                    data = data[1..];
                    _escape = false;
                    continue;
                }

                var k = data.IndexOfAny((byte)'"', (byte)'\\');
                if (k < 0)
                {
                    Append(data);
                    return default;
                }

                Append(data[..(k + 1)]);
                if (data[k] == (byte)'\\')
                {
                    _escape = true;
                }
                else
                {
                    _inString = false;
                }

                data = data[(k + 1)..];
                continue;
            }

            var i = data.IndexOfAny(Structural);
            if (i < 0)
            {
                Append(data);
                return default;
            }

            var c = data[i];
            if (_depth == 0 && (c == (byte)',' || c == (byte)']'))
            {
                Append(data[..i]);
                EndElement(target);
                _afterComma = c == (byte)',';
                _state = c == (byte)',' ? State.BeforeElement : State.End;
                return data[(i + 1)..];
            }

            switch (c)
            {
                case (byte)'"':
                    _inString = true;
                    break;
                case (byte)'{':
                case (byte)'[':
                    _depth++;
                    break;
                case (byte)'}':
                case (byte)']':
                    if (_depth > 0)
                    {
                        _depth--;
                    }

                    break;
            }

            Append(data[..(i + 1)]);
            data = data[(i + 1)..];
        }

        return default;
    }

    private void EndElement(IFramedRecordTarget target)
    {
        if (EndOversize(target))
        {
            return;
        }

        var element = _scratch.AsSpan(0, _length);
        _length = 0;
        var end = element.LastIndexOfAnyExcept(" \t\r\n"u8);
        element = element[..(end + 1)];
        if (element.Length > _maxRecordBytes)
        {
            target.OnOversize(element.Length);
            return;
        }

        target.OnRecord(element);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_oversizeLength > 0)
        {
            _oversizeLength += bytes.Length;
            return;
        }

        if (_length + bytes.Length > _scratch.Length)
        {
            // Too long: stop buffering, count the rest of it as it passes.
            _oversizeLength = (long)_length + bytes.Length;
            _length = 0;
            return;
        }

        bytes.CopyTo(_scratch.AsSpan(_length));
        _length += bytes.Length;
    }

    private bool Fail(string error)
    {
        Error = error;
        return false;
    }
}
