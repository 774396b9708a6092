namespace Metering.Rating.Meters;

/// <summary>
/// The period quantity of the meters whose state is a number or two (sum, count, max, min, latest, unique_count):
/// the billing rules of docs/meters.md, over what the Aggregates meter states hold. Pure and allocation-free.
/// </summary>
/// <remarks>
/// The empty period: a total, and so a statement line, exists only when a record went into it, so "no records" is
/// never billed. Where a quantity is still asked of an empty state, sum, count, max, min, latest and unique_count give
/// 0. The same period rule as sum applies: the quantity of a period is that of the merged state of all its windows,
/// late ones included until the period closes; after close, late usage is rated on top of the closed state
/// (the ledger's adjustment rule), so a late record that raises a max raises the adjustment by what the new max adds.
/// </remarks>
public static class MeterRules
{
    /// <summary>sum: the exact sum of the records' nano-units.</summary>
    public static MeterQuantity Sum(Int128 sumNanos) => MeterQuantity.OfNanos(sumNanos, "sum");

    /// <summary>count: the number of records (deduplicated: a duplicate is never counted).</summary>
    public static MeterQuantity Count(long records) => new(records);

    /// <summary>max or min: the extreme record quantity in nano-units; 0 for a period without records (<paramref name="records"/> 0).</summary>
    public static MeterQuantity Extremum(long records, long extremeNanos) => records == 0 ? new MeterQuantity(0) : MeterQuantity.OfNanos(extremeNanos, "quantity");

    /// <summary>latest: the latest record's quantity in nano-units; 0 for a period without records.</summary>
    public static MeterQuantity Latest(bool hasRecord, long latestNanos) => hasRecord ? MeterQuantity.OfNanos(latestNanos, "quantity") : new MeterQuantity(0);

    /// <summary>
    /// unique_count: the number of distinct values, or unpriced (<see cref="MeterQuantity.OverBoundReason"/>) once the
    /// key saw more than <see cref="MeterDefinition.MaxDistinct"/> of them: past the bound the state stops being exact,
    /// and an approximate count is never billed.
    /// </summary>
    public static MeterQuantity UniqueCount(MeterDefinition meter, long distinct, bool overBound)
    {
        ArgumentNullException.ThrowIfNull(meter);
        return overBound
            ? new MeterQuantity(0, MeterQuantity.OverBoundReason,
                $"more than {meter.MaxDistinct} distinct values of {meter.Field} in the period: the unique_count meter counts exactly up to its max_distinct ({meter.MaxDistinct}) and bills no approximation; raise max_distinct in a new price-book version (at most {MeterDefinition.MaxMaxDistinct}) and re-rate the period, or bill a credit/debit")
            : new MeterQuantity(distinct);
    }
}
