using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Meters;
using Metering.Rating.Meters;
using Metering.Rating.PeriodTotals;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The meter states of one flush's metered totals (<see cref="TouchedTotal.Meter"/>: a price whose meter is not a sum;
/// docs/meters.md): each is read from <c>meter_states</c> inside the flush transaction, the flush's windows are merged
/// into it (count, min and max from the aggregate rows; the single records, which the engine keeps for time_weighted
/// and percentile SKUs, for the others), the meter's period rule turns it into the quantity the rater prices, and the
/// new state is written back in the same transaction. So a replayed flush merges its records exactly once: either the
/// whole flush committed, state included, or none of it did.
/// </summary>
/// <remarks>
/// The quantity is that of the total's whole range (the period, or a version's part of it), as of its end: a gauge's
/// last reading holds until the end, a percentile ranks every bucket of the period with the ones still to come as 0.
/// That makes the committed amount a function of the committed records only, whatever the time a flush runs at, so
/// a replay rates exactly what the first attempt rated.
/// </remarks>
internal sealed class MeterTotals
{
    private readonly Dictionary<PeriodTotalKey, (TouchedTotal Total, MeterAccumulator State)> _totals = [];
    private readonly Dictionary<PeriodTotalKey, MeterQuantity> _quantities = [];

    /// <summary>The meter quantity after this flush of every metered total of the plan, for the rater.</summary>
    public IReadOnlyDictionary<PeriodTotalKey, MeterQuantity> Quantities => _quantities;

    /// <summary>
    /// Loads the states of <paramref name="plan"/>'s metered totals and merges window i's usage (<paramref name="rows"/>[i],
    /// and for record meters <paramref name="records"/>[i], its single records) into its total's. Throws
    /// <see cref="ArgumentException"/> (a data fault: the flush is isolated and its records read again) when a window of a
    /// record meter came without its records, which happens only to records taken in before the engine knew the price.
    /// </summary>
    public static async Task<MeterTotals> BuildAsync(NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsPlan plan, IReadOnlyList<AggregateRow> rows,
        IReadOnlyDictionary<int, List<KeptTransaction>>? records, CancellationToken cancellationToken)
    {
        var meters = new MeterTotals();
        var metered = plan.Totals.Where(t => t.Meter is not null).ToList();
        if (metered.Count == 0)
        {
            return meters;
        }

        var stored = await LoadAsync(connection, tx, metered.Select(t => t.Key).ToList(), cancellationToken).ConfigureAwait(false);
        foreach (var t in metered)
        {
            meters._totals.Add(t.Key, (t, stored.TryGetValue(t.Key, out var bytes) ? MeterAccumulator.Read(t, bytes) : MeterAccumulator.Empty(t.Meter!)));
        }

        for (var i = 0; i < rows.Count; i++)
        {
            var total = plan.TotalOfWindow(i);
            if (total.Meter is null)
            {
                continue;
            }

            var row = rows[i];
            var kept = records?.GetValueOrDefault(i);
            var state = meters._totals[total.Key].State;
            if (state.NeedsRecords && (kept is null || kept.Count != row.Count))
            {
                var w = plan.Windows[i];
                throw new ArgumentException($"{w.Account}/{w.Sku} window {w.Start:yyyy-MM-dd'T'HH:mm'Z'}: its price meters {total.Meter.AggregationName}, and the window's {row.Count} records came with " +
                    $"{kept?.Count ?? 0} single records (taken in before the price was known to the engine: they are read again)");
            }

            state.Add(row, kept);
        }

        foreach (var (key, (total, state)) in meters._totals)
        {
            meters._quantities.Add(key, state.Quantity(total));
        }

        return meters;
    }

    /// <summary>Writes every state this flush merged into, with its quantity and unpriced reason (upsert).</summary>
    public async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        if (_totals.Count == 0)
        {
            return;
        }

        var keys = _totals.Keys.ToList();
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO meter_states AS m (account, sku, period_start, dimension_group, price_from, state, quantity, unpriced, detail)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::bytea[], $7::numeric[], $8::text[], $9::text[])
            ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO UPDATE
              SET state = excluded.state, quantity = excluded.quantity, unpriced = excluded.unpriced, detail = excluded.detail, updated_at = now()
            """, connection, tx);
        PeriodTotalsStore.AddKeys(cmd, keys);
        cmd.Parameters.Add(ArrayParameter.Of(keys.Select(k => _totals[k].State.ToBytes())));
        cmd.Parameters.Add(ArrayParameter.Of(keys.Select(k => _quantities[k].Quantity)));
        cmd.Parameters.Add(ArrayParameter.Of(keys.Select(k => _quantities[k].UnpricedReason)));
        cmd.Parameters.Add(ArrayParameter.Of(keys.Select(k => _quantities[k].Detail)));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<PeriodTotalKey, byte[]>> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<PeriodTotalKey> keys, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT m.account, m.sku, m.period_start, m.dimension_group, m.price_from, m.state
            FROM meter_states m
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON m.account = k.a AND m.sku = k.s AND m.period_start = k.p AND m.dimension_group = k.g AND m.price_from = k.f
            FOR UPDATE OF m
            """, connection, tx);
        PeriodTotalsStore.AddKeys(cmd, keys);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var stored = new Dictionary<PeriodTotalKey, byte[]>(keys.Count);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            stored.Add(PeriodTotalsStore.Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3), reader.GetDateTime(4)), reader.GetFieldValue<byte[]>(5));
        }

        return stored;
    }
}

/// <summary>One metered total's state while a flush merges into it: the Aggregates state of its meter and the period rule that reads it.</summary>
internal abstract class MeterAccumulator(MeterDefinition meter)
{
    protected MeterDefinition Meter { get; } = meter;

    /// <summary>True when the meter needs the window's single records (time_weighted, percentile), not only its count, min and max.</summary>
    public bool NeedsRecords => Meter.NeedsRecords;

    /// <summary>Merges one window: its aggregate row and, for a record meter, its single records.</summary>
    public abstract void Add(in AggregateRow row, List<KeptTransaction>? records);

    /// <summary>The quantity of <paramref name="total"/>'s range (<see cref="PeriodTotalKey.PricedFrom"/> to <see cref="TouchedTotal.RangeEnd"/>), as of its end.</summary>
    public abstract MeterQuantity Quantity(TouchedTotal total);

    /// <summary>The state as <c>meter_states.state</c> stores it.</summary>
    public abstract byte[] ToBytes();

    public static MeterAccumulator Empty(MeterDefinition meter) => meter.Aggregation switch
    {
        MeterAggregation.Count or MeterAggregation.Max or MeterAggregation.Min => new Extrema(meter, ExtremaState.Empty),
        MeterAggregation.TimeWeighted => new Gauge(meter, new TimeWeightedState(meter.MaxReadings)),
        MeterAggregation.Percentile => new Buckets(meter, new PercentileState(meter.Bucket.Ticks, MeterDefinition.MaxBuckets)),
        _ => throw new NotSupportedException($"the {meter.AggregationName} meter is not rated by the engine (PriceBookValidation.UnratedMeters refuses it at publish)"),
    };

    /// <summary>The stored state of <paramref name="total"/>; throws <see cref="InvalidDataException"/> naming the key when it does not read back as its meter's.</summary>
    public static MeterAccumulator Read(TouchedTotal total, byte[] bytes)
    {
        var meter = total.Meter!;
        string? error;
        MeterAccumulator? read = null;
        switch (meter.Aggregation)
        {
            case MeterAggregation.Count or MeterAggregation.Max or MeterAggregation.Min:
                if (ExtremaState.TryRead(bytes, out var extrema, out error))
                {
                    read = new Extrema(meter, extrema);
                }

                break;
            case MeterAggregation.TimeWeighted:
                if (TimeWeightedState.TryRead(bytes, out var gauge, out error))
                {
                    read = new Gauge(meter, gauge);
                }

                break;
            case MeterAggregation.Percentile:
                if (PercentileState.TryRead(bytes, out var buckets, out error) && buckets.BucketTicks == meter.Bucket.Ticks)
                {
                    read = new Buckets(meter, buckets);
                }

                error ??= $"its buckets are not of {MeterDurations.Format(meter.Bucket)}";
                break;
            default:
                error = "the meter is not rated by the engine";
                break;
        }

        var key = total.Key;
        return read ?? throw new InvalidDataException($"meter_states of {key.Account}/{key.Sku} period {key.PeriodStart:yyyy-MM-dd} does not read as a {meter.AggregationName} state: {error}");
    }

    private static long Ticks(DateTimeOffset instant) => instant.UtcTicks;

    /// <summary>count, max, min: the windows' counts and extremes (no single records needed).</summary>
    private sealed class Extrema(MeterDefinition meter, ExtremaState state) : MeterAccumulator(meter)
    {
        private ExtremaState _state = state;

        public override void Add(in AggregateRow row, List<KeptTransaction>? records) =>
            _state.Merge(new ExtremaState { Count = row.Count, MinNanos = row.MinNanos, MaxNanos = row.MaxNanos });

        public override MeterQuantity Quantity(TouchedTotal total) => Meter.Aggregation switch
        {
            MeterAggregation.Count => MeterRules.Count(_state.Count),
            MeterAggregation.Max => MeterRules.Extremum(_state.Count, _state.MaxNanos),
            _ => MeterRules.Extremum(_state.Count, _state.MinNanos),
        };

        public override byte[] ToBytes() => _state.ToBytes();
    }

    /// <summary>time_weighted: every reading, integrated over the total's range.</summary>
    private sealed class Gauge(MeterDefinition meter, TimeWeightedState state) : MeterAccumulator(meter)
    {
        public override void Add(in AggregateRow row, List<KeptTransaction>? records)
        {
            foreach (var r in records!)
            {
                state.Add(r.TimeTicks, r.QuantityNanos);
            }
        }

        public override MeterQuantity Quantity(TouchedTotal total) =>
            TimeWeightedRule.Quantity(Meter, state.Times, state.Levels, state.IsOverBound, Ticks(total.Key.PricedFrom), Ticks(total.RangeEnd), Ticks(total.RangeEnd));

        public override byte[] ToBytes() => state.ToBytes();
    }

    /// <summary>percentile: the sum of every bucket with records, ranked over the total's range.</summary>
    private sealed class Buckets(MeterDefinition meter, PercentileState state) : MeterAccumulator(meter)
    {
        public override void Add(in AggregateRow row, List<KeptTransaction>? records)
        {
            foreach (var r in records!)
            {
                state.Add(r.TimeTicks, r.QuantityNanos);
            }
        }

        public override MeterQuantity Quantity(TouchedTotal total) =>
            BurstableRule.Quantity(Meter, state.Indexes, state.Sums, state.IsOverBound, Ticks(total.Key.PricedFrom), Ticks(total.RangeEnd), Ticks(total.RangeEnd));

        public override byte[] ToBytes() => state.ToBytes();
    }
}
