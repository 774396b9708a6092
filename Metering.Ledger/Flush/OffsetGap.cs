namespace Metering.Ledger.Flush;

/// <summary>Offsets [<paramref name="From"/>, <paramref name="To"/>) of a partition that the broker no longer had.</summary>
public sealed record OffsetGap(int Partition, long From, long To);
