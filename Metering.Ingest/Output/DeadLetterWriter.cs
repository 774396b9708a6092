using System.Text.Json;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Output;

/// <summary>
/// Writes dead letters as NDJSON: <c>{"line","offset","reason","detail","raw"|"raw_base64","raw_length","truncated"}</c>
/// (docs/usage-records.md). Thread-safe (a lock: dead letters are the cold path). Also counts by reason.
/// </summary>
public sealed class DeadLetterWriter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Utf8JsonWriter? _json;
    private readonly Stream? _stream;

    /// <summary>Writes to <paramref name="stream"/>, or only counts when it is null.</summary>
    public DeadLetterWriter(Stream? stream)
    {
        _stream = stream;
        if (stream is not null)
        {
            _json = new Utf8JsonWriter(stream, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
    }

    /// <summary>Dead letters by reason.</summary>
    public long[] ByReason { get; } = new long[RejectReasons.Count];

    /// <summary>All dead letters written.</summary>
    public long Total { get; private set; }

    /// <summary>Writes one dead letter.</summary>
    public void Write(DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(letter);
        lock (_gate)
        {
            ByReason[(int)letter.Reason]++;
            Total++;
            if (_json is null)
            {
                return;
            }

            _json.WriteStartObject();
            _json.WriteNumber("line", letter.LineNumber);
            _json.WriteNumber("offset", letter.ByteOffset);
            _json.WriteString("reason", letter.Reason.Code());
            _json.WriteString("detail", letter.Detail);
            var text = letter.RawText;
            if (text is not null)
            {
                _json.WriteString("raw", text);
            }
            else
            {
                _json.WriteBase64String("raw_base64", letter.Raw);
            }

            _json.WriteNumber("raw_length", letter.RawLength);
            if (letter.IsTruncated)
            {
                _json.WriteBoolean("truncated", true);
            }

            _json.WriteEndObject();
            _json.Flush();
            _stream!.WriteByte((byte)'\n');
            _json.Reset();
        }
    }

    /// <summary>Flushes the output.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _json?.Dispose();
            _stream?.Flush();
        }
    }
}
