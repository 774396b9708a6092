using System.Text;
using Metering.Aggregates.Records;

namespace Metering.Aggregates.Decoding;

/// <summary>
/// A rejected record with everything needed to find, understand and replay it: where it was (line, byte offset),
/// why (reason code and a detail naming the field), and its bytes (the whole line, or a prefix for oversize lines).
/// Allocated only for rejected records (the cold path).
/// </summary>
public sealed record DeadLetter(long LineNumber, long ByteOffset, RejectReason Reason, string Detail, byte[] Raw, long RawLength)
{
    /// <summary>The raw bytes as text when they are valid UTF-8, else null (then use <see cref="Raw"/> as base64).</summary>
    public string? RawText => System.Text.Unicode.Utf8.IsValid(Raw) ? Encoding.UTF8.GetString(Raw) : null;

    /// <summary>True when <see cref="Raw"/> holds only a prefix of the line.</summary>
    public bool IsTruncated => RawLength > Raw.Length;
}
