namespace Metering.Ledger.Outbox;

/// <summary>
/// One rated window of the outbox as exported to ClickHouse: a row of a blob of <c>rated_window_blobs</c>
/// (<see cref="RatedWindowArrow.Decode"/>) or of the row outbox <c>rated_windows</c>. Quantities and money are exact decimals.
/// </summary>
public sealed record RatedWindowRow(
    long Id,
    string Account,
    string Sku,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    string Dimensions,
    decimal Quantity,
    long RecordCount,
    decimal Amount,
    string Currency,
    string PriceBookHash,
    DateTimeOffset PeriodStart);
