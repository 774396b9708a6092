using System.Text.Json;
using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;

namespace Metering.Ingest.Pipeline;

/// <summary>
/// CloudEvents in a file (<c>metering aggregate --event-mapping</c>, docs/cloudevents.md "File mode"): a line is a
/// structured-mode event (a JSON object with a top-level <c>specversion</c>), a batch (a JSON array of such events,
/// as <c>application/cloudevents-batch+json</c>), or a native record. Events are translated by the mapping
/// (<see cref="CloudEventDecoder"/>); the caller admits the native record by the one admission rule.
/// Not thread-safe: one instance per decoding thread.
/// </summary>
internal sealed class CloudEventLines(EventMapping mapping)
{
    private readonly CloudEventDecoder _decoder = new(mapping);
    private readonly List<(int Start, int Length)> _elements = [];

    /// <summary>What a line holds.</summary>
    public enum Kind
    {
        Native,
        Event,
        Batch,
    }

    /// <summary>
    /// Classifies <paramref name="line"/> (not blank). Only a line that mentions <c>specversion</c> (or has an escape,
    /// which could spell it) is scanned, so native lines cost one vectorized search: a native record keeps its
    /// reasons even if a dimension value says "specversion", since only a top-level member makes an event.
    /// </summary>
    public static Kind Classify(ReadOnlySpan<byte> line)
    {
        var first = line.IndexOfAnyExcept((byte)' ', (byte)'\t');
        if (line[first] == (byte)'[')
        {
            return Kind.Batch;
        }

        if (line.IndexOf("\"specversion\""u8) < 0 && line.IndexOf((byte)'\\') < 0)
        {
            return Kind.Native;
        }

        var reader = new Utf8JsonReader(line);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Kind.Native;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("specversion"u8))
                {
                    return Kind.Event;
                }

                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Malformed before any top-level specversion: the native parser names the problem.
        }

        return Kind.Native;
    }

    /// <summary>Translates one structured-mode event into its native record (valid until the next call).</summary>
    public RejectReason Event(ReadOnlySpan<byte> json, out ReadOnlyMemory<byte> record, out string detail) =>
        _decoder.Structured(json, out record, out detail);

    /// <summary>
    /// Splits a batch line into its events (start and length of each within <paramref name="line"/>, valid until
    /// the next call), or returns the reason the line as a whole is refused: not JSON, or not an array.
    /// The whole line is checked first, so a batch is either read event by event or refused as one record.
    /// </summary>
    public RejectReason Batch(ReadOnlySpan<byte> line, out List<(int Start, int Length)> events, out string detail)
    {
        events = _elements;
        _elements.Clear();
        detail = "";
        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            detail = "the batch is not valid UTF-8";
            return RejectReason.InvalidUtf8;
        }

        var reader = new Utf8JsonReader(line);
        try
        {
            reader.Read(); // the '[' Classify saw
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                _elements.Add((start, (int)reader.BytesConsumed - start));
            }

            if (reader.TokenType != JsonTokenType.EndArray || reader.Read())
            {
                throw new JsonException("the batch array is not closed, or something follows it");
            }
        }
        catch (JsonException e)
        {
            _elements.Clear();
            detail = $"a CloudEvents batch line ({CloudEventDecoder.BatchMediaType}) is not a JSON array of events: {e.Message}";
            return RejectReason.MalformedJson;
        }

        return RejectReason.None;
    }
}
