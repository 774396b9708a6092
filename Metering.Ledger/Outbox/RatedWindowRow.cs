namespace Metering.Ledger.Outbox;

/// <summary>One row of the PostgreSQL outbox <c>rated_windows</c>, as exported to ClickHouse. Quantities and money are exact decimals.</summary>
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
