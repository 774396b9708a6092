
namespace Metering.Analytics;

/// <summary>What one <see cref="AnalyticsExporter.ExportOnceAsync"/> moved.</summary>
/// <param name="Rows">Outbox rows inserted into ClickHouse and marked exported.</param>
/// <param name="Batches">Arrow batches sent.</param>
/// <param name="Elapsed">Wall time of the pass.</param>
/// <param name="Read">Part of it reading the outbox from PostgreSQL.</param>
/// <param name="Insert">Part of it encoding Arrow and inserting into ClickHouse.</param>
/// <param name="Mark">Part of it marking the rows exported in PostgreSQL.</param>
public sealed record ExportResult(long Rows, int Batches, TimeSpan Elapsed, TimeSpan Read, TimeSpan Insert, TimeSpan Mark)
{
    /// <summary>Rows per second of the pass (0 when nothing moved).</summary>
    public double RowsPerSecond => Rows == 0 || Elapsed <= TimeSpan.Zero ? 0 : Rows / Elapsed.TotalSeconds;
}
