namespace Metering.Rating.Meters;

/// <summary>
/// time_weighted: the integral of a level over event time (docs/meters.md). Each reading (event time, level) sets the
/// level from its time until the next reading; the level is <b>0 before the period's first reading</b> (nothing is
/// carried from the previous period, as Lago's metered weighted sum starts each period at 0), and the last reading
/// holds until the period's end, or for an open period until <c>asOf</c>. Pure; allocation-free.
/// </summary>
public static class TimeWeightedRule
{
    /// <summary>
    /// The integral of the step function over [<paramref name="startTicks"/>, <paramref name="endTicks"/>), in
    /// nano-units × 100 ns ticks, exact. <paramref name="times"/> ascend strictly (one level per instant: the state's
    /// tie rule); <paramref name="levels"/> are nano-units. A reading before the start sets the level at the start; one
    /// at or after the end is outside the period.
    /// </summary>
    public static Int128 Integral(ReadOnlySpan<long> times, ReadOnlySpan<long> levels, long startTicks, long endTicks)
    {
        if (times.Length != levels.Length)
        {
            throw new ArgumentException($"{times.Length} reading times but {levels.Length} levels", nameof(levels));
        }

        Int128 integral = 0;
        for (var i = 0; i < times.Length; i++)
        {
            var from = Math.Max(times[i], startTicks);
            if (from >= endTicks)
            {
                break;
            }

            var to = i + 1 < times.Length ? Math.Min(Math.Max(times[i + 1], startTicks), endTicks) : endTicks;
            integral += (Int128)levels[i] * (to - from);
        }

        return integral;
    }

    /// <summary>
    /// The period quantity in level × <see cref="MeterDefinition.UnitOfTime"/> (GB-hours): the integral over
    /// [period start, min(period end, <paramref name="asOfTicks"/>)) divided by the unit's ticks. <b>Rounding step:</b>
    /// the division truncates toward zero at 9 fractional digits (a nano GB-hour), the ledger's scale; never rounded up.
    /// Unpriced when the state is past <see cref="MeterDefinition.MaxReadings"/>.
    /// </summary>
    public static MeterQuantity Quantity(MeterDefinition meter, ReadOnlySpan<long> times, ReadOnlySpan<long> levels, bool overBound,
        long periodStartTicks, long periodEndTicks, long asOfTicks)
    {
        ArgumentNullException.ThrowIfNull(meter);
        if (meter.Aggregation != MeterAggregation.TimeWeighted)
        {
            throw new ArgumentException($"a {meter.AggregationName} meter is not time_weighted", nameof(meter));
        }

        if (overBound)
        {
            return new MeterQuantity(0, MeterQuantity.OverBoundReason,
                $"more than {meter.MaxReadings} distinct reading times in the period: the time_weighted meter keeps every reading up to its max_readings ({meter.MaxReadings}) and bills no approximation; report the level less often, or raise max_readings (at most {MeterDefinition.MaxMaxReadings})");
        }

        var end = Math.Max(periodStartTicks, Math.Min(periodEndTicks, asOfTicks));
        // nano-units x ticks / ticks-per-unit = nano-(unit x time unit): integer division is the truncation at 9 digits.
        var nanos = Integral(times, levels, periodStartTicks, end) / meter.UnitOfTime.Ticks;
        return MeterQuantity.OfNanos(nanos, "time-weighted quantity");
    }
}
