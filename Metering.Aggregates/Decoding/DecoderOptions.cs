namespace Metering.Aggregates.Decoding;

/// <summary>Limits and clock for decoding usage records. Defaults are documented in docs/usage-records.md.</summary>
public sealed record DecoderOptions
{
    /// <summary>Longest accepted line in bytes, newline excluded (default 16 KiB). Longer lines are dead-lettered.</summary>
    public int MaxLineBytes { get; init; } = 16 * 1024;

    /// <summary>Longest id, account or sku in UTF-8 bytes after JSON unescaping (default 128).</summary>
    public int MaxIdentifierBytes { get; init; } = 128;

    /// <summary>Most entries in <c>dimensions</c> (default 16).</summary>
    public int MaxDimensions { get; init; } = 16;

    /// <summary>Longest dimension key in bytes (default 64).</summary>
    public int MaxDimensionKeyBytes { get; init; } = 64;

    /// <summary>Longest dimension value in bytes (default 256).</summary>
    public int MaxDimensionValueBytes { get; init; } = 256;

    /// <summary>How far past the wall clock an event time may be (default 10 minutes).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Records per batch handed to the next stage (default 4096).</summary>
    public int BatchSize { get; init; } = 4096;

    /// <summary>Bytes of a rejected line kept in its dead letter when the line is oversize (default 1 KiB).</summary>
    public int OversizeLinePrefixBytes { get; init; } = 1024;

    /// <summary>The wall clock for the future-time check.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Throws when a limit is out of range, naming it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxLineBytes, 64, nameof(MaxLineBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxLineBytes, 16 * 1024 * 1024, nameof(MaxLineBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIdentifierBytes, 1, nameof(MaxIdentifierBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxIdentifierBytes, 4096, nameof(MaxIdentifierBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxDimensions, nameof(MaxDimensions));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDimensions, 256, nameof(MaxDimensions));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
    }
}
