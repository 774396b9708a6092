using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Meters;
using Metering.Rating.Meters;
using Metering.Rating.PeriodTotals;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The meter states of one flush's metered totals (<see cref="TouchedTotal.Meter"/>: a price whose meter is not a sum;
/// docs/meters.md): each is read inside the flush transaction (or taken from <see cref="MeterStateCache"/>), the
/// flush's windows are merged into it (count, min and max from the aggregate rows; the single records, which the
/// engine keeps for time_weighted, percentile, latest and unique_count SKUs, for the others, with latest's event ids
/// and unique_count's value fingerprints), the meter's period rule turns it into the
/// quantity the rater prices, and what changed is written back in the same transaction. So a replayed flush merges
/// its records exactly once: either the whole flush committed, state included, or none of it did.
/// </summary>
/// <remarks>
/// <para>The quantity is that of the total's whole range (the period, or a version's part of it), as of its end: a
/// gauge's last reading holds until the end, a percentile ranks every bucket of the period with the ones still to come
/// as 0. That makes the committed amount a function of the committed records only, whatever the time a flush runs at,
/// so a replay rates exactly what the first attempt rated.</para>
/// <para>Writes cost what the flush adds, not the state's size: a state that grows (a gauge's readings, a percentile's
/// buckets) is stored as a base (<c>meter_states.state</c>) plus one delta row per flush that touched it
/// (<c>meter_state_deltas</c>, the flush's own records' state); when the deltas add up to the base's size they are
/// folded into a new base (or after 256 deltas, which bounds what a read-back merges). A month of minute readings
/// (~44,640, ~530 KB) then writes about 46 MB per key, where rewriting the whole state per flush would write it 44,640
/// times (~12 GB). A state read from PostgreSQL is the base merged with its deltas (a merge is exact and order-free).</para>
/// </remarks>
internal sealed class MeterTotals
{
    private readonly Dictionary<PeriodTotalKey, MeterTotal> _totals = [];
    private readonly Dictionary<PeriodTotalKey, MeterQuantity> _quantities = [];

    /// <summary>The meter quantity after this flush of every metered total of the plan, for the rater.</summary>
    public IReadOnlyDictionary<PeriodTotalKey, MeterQuantity> Quantities => _quantities;

    /// <summary>
    /// For a late total (its period closed): how much this flush moved its meter quantity (after − before), the
    /// adjustment line's <c>meter_quantity</c>; null for any other key.
    /// </summary>
    public decimal? LateQuantityChange(PeriodTotalKey key) => _lateBefore.TryGetValue(key, out var before) ? _quantities[key].Quantity - before : null;

    private readonly Dictionary<PeriodTotalKey, decimal> _lateBefore = [];

    /// <summary>
    /// Loads the states of <paramref name="plan"/>'s metered totals and merges window i's usage (<paramref name="rows"/>[i],
    /// and for record meters <paramref name="records"/>[i], its single records) into its total's. An open total whose
    /// stored total came from the totals cache (<paramref name="cachedTotals"/>) takes its state from
    /// <paramref name="cache"/> when it has it: both were committed by the same flush, and the total's conditional write
    /// fails the flush if another writer moved it since. Throws <see cref="ArgumentException"/> (a data fault: the flush
    /// is isolated and its records read again) when a window of a record meter came without its records, which happens
    /// only to records taken in before the engine knew the price.
    /// </summary>
    public static async Task<MeterTotals> BuildAsync(NpgsqlConnection connection, NpgsqlTransaction tx, PeriodTotalsPlan plan, IReadOnlyList<AggregateRow> rows,
        IReadOnlyDictionary<int, List<KeptTransaction>>? records, IReadOnlyList<KeptMeterInput> inputs, IReadOnlySet<PeriodTotalKey> cachedTotals, MeterStateCache? cache,
        CancellationToken cancellationToken)
    {
        var meters = new MeterTotals();
        var metered = plan.Totals.Where(t => t.Meter is not null).ToList();
        if (metered.Count == 0)
        {
            return meters;
        }

        var toLoad = new List<TouchedTotal>();
        foreach (var t in metered)
        {
            if (!t.IsLate && cachedTotals.Contains(t.Key) && cache?.Take(t.Key) is { } held)
            {
                meters._totals.Add(t.Key, held with { Delta = MeterAccumulator.Empty(t.Meter!) });
            }
            else
            {
                toLoad.Add(t);
            }
        }

        if (toLoad.Count > 0)
        {
            var (bases, deltas) = await LoadAsync(connection, tx, toLoad.Select(t => t.Key).ToList(), cancellationToken).ConfigureAwait(false);
            foreach (var t in toLoad)
            {
                var exists = bases.TryGetValue(t.Key, out var baseBytes);
                var state = exists ? MeterAccumulator.Read(t, baseBytes!) : MeterAccumulator.Empty(t.Meter!);
                var deltaBytes = 0L;
                foreach (var d in deltas.GetValueOrDefault(t.Key) ?? [])
                {
                    state.Merge(MeterAccumulator.Read(t, d));
                    deltaBytes += d.Length;
                }

                meters._totals.Add(t.Key, new MeterTotal(t, state, MeterAccumulator.Empty(t.Meter!), exists, baseBytes?.Length ?? 0, deltaBytes, deltas.GetValueOrDefault(t.Key)?.Count ?? 0));
            }
        }

        foreach (var (key, m) in meters._totals)
        {
            if (m.Total.IsLate)
            {
                meters._lateBefore.Add(key, m.State.Quantity(m.Total).Quantity);
            }
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
            var m = meters._totals[total.Key];
            if (m.State.NeedsRecords && (kept is null || kept.Count != row.Count))
            {
                var w = plan.Windows[i];
                throw new ArgumentException($"{w.Account}/{w.Sku} window {w.Start:yyyy-MM-dd'T'HH:mm'Z'}: its price meters {total.Meter.AggregationName}, and the window's {row.Count} records came with " +
                    $"{kept?.Count ?? 0} single records (taken in before the price was known to the engine: they are read again)");
            }

            m.State.Add(row, kept, inputs);
            m.Delta!.Add(row, kept, inputs);
        }

        foreach (var (key, m) in meters._totals)
        {
            meters._quantities.Add(key, m.State.Quantity(m.Total));
        }

        return meters;
    }

    /// <summary>
    /// Writes what this flush changed: for each touched state its quantity and unpriced reason, and either its delta
    /// (a row of <c>meter_state_deltas</c>) or, when the deltas would reach the base's size (or it has no base yet), a
    /// new base with its deltas removed.
    /// </summary>
    public async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        if (_totals.Count == 0)
        {
            return;
        }

        var keys = _totals.Keys.ToList();
        var bases = new byte[]?[keys.Count];
        var deltaKeys = new List<PeriodTotalKey>();
        var deltaStates = new List<byte[]>();
        var folded = new List<PeriodTotalKey>();
        for (var i = 0; i < keys.Count; i++)
        {
            var m = _totals[keys[i]];
            var delta = m.Delta!.ToBytes();
            if (m.HasBase && m.DeltaBytes + delta.Length < m.BaseBytes && m.DeltaCount < MaxDeltas)
            {
                deltaKeys.Add(keys[i]);
                deltaStates.Add(delta);
                _totals[keys[i]] = m with { DeltaBytes = m.DeltaBytes + delta.Length, DeltaCount = m.DeltaCount + 1 };
            }
            else
            {
                bases[i] = m.State.ToBytes();
                if (m.DeltaCount > 0)
                {
                    folded.Add(keys[i]);
                }

                _totals[keys[i]] = m with { HasBase = true, BaseBytes = bases[i]!.Length, DeltaBytes = 0, DeltaCount = 0 };
            }
        }

        var rebased = Enumerable.Range(0, keys.Count).Where(i => bases[i] is not null).ToList();
        if (rebased.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO meter_states AS m (account, sku, period_start, dimension_group, price_from, state, quantity, unpriced, detail)
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::bytea[], $7::numeric[], $8::text[], $9::text[])
                ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO UPDATE
                  SET state = excluded.state, quantity = excluded.quantity, unpriced = excluded.unpriced, detail = excluded.detail, updated_at = now()
                """, connection, tx);
            PeriodTotalsStore.AddKeys(cmd, rebased.Select(i => keys[i]));
            cmd.Parameters.Add(ArrayParameter.Of(rebased.Select(i => bases[i]!)));
            AddQuantities(cmd, rebased.Select(i => keys[i]));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (deltaKeys.Count > 0)
        {
            // The base stays; the quantity is the merged state's.
            await using var cmd = new NpgsqlCommand("""
                UPDATE meter_states m SET quantity = k.quantity, unpriced = k.unpriced, detail = k.detail, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::numeric[], $7::text[], $8::text[]) AS k(a, s, p, g, f, quantity, unpriced, detail)
                WHERE m.account = k.a AND m.sku = k.s AND m.period_start = k.p AND m.dimension_group = k.g AND m.price_from = k.f
                """, connection, tx);
            PeriodTotalsStore.AddKeys(cmd, deltaKeys);
            AddQuantities(cmd, deltaKeys);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (folded.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                DELETE FROM meter_state_deltas d USING unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
                WHERE d.account = k.a AND d.sku = k.s AND d.period_start = k.p AND d.dimension_group = k.g AND d.price_from = k.f
                """, connection, tx);
            PeriodTotalsStore.AddKeys(cmd, folded);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (deltaKeys.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO meter_state_deltas (account, sku, period_start, dimension_group, price_from, state)
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::bytea[])
                """, connection, tx);
            PeriodTotalsStore.AddKeys(cmd, deltaKeys);
            cmd.Parameters.Add(ArrayParameter.Of(deltaStates));
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void AddQuantities(NpgsqlCommand cmd, IEnumerable<PeriodTotalKey> keys)
    {
        var list = keys as IReadOnlyCollection<PeriodTotalKey> ?? [.. keys];
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => _quantities[k].Quantity)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => _quantities[k].UnpricedReason)));
        cmd.Parameters.Add(ArrayParameter.Of(list.Select(k => _quantities[k].Detail)));
    }

    /// <summary>After the commit: hands the open totals' states to <paramref name="cache"/> for the next flush.</summary>
    public void Committed(MeterStateCache cache)
    {
        foreach (var (key, m) in _totals)
        {
            if (!m.Total.IsLate)
            {
                cache.Put(key, m with { Delta = null });
            }
        }
    }

    // Deltas a state may have before they are folded into its base whatever their size (a bound on the rows a load reads).
    private const int MaxDeltas = 256;

    private static async Task<(Dictionary<PeriodTotalKey, byte[]> Bases, Dictionary<PeriodTotalKey, List<byte[]>> Deltas)> LoadAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, List<PeriodTotalKey> keys, CancellationToken cancellationToken)
    {
        var bases = new Dictionary<PeriodTotalKey, byte[]>(keys.Count);
        await using (var cmd = new NpgsqlCommand("""
            SELECT m.account, m.sku, m.period_start, m.dimension_group, m.price_from, m.state
            FROM meter_states m
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON m.account = k.a AND m.sku = k.s AND m.period_start = k.p AND m.dimension_group = k.g AND m.price_from = k.f
            FOR UPDATE OF m
            """, connection, tx))
        {
            PeriodTotalsStore.AddKeys(cmd, keys);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                bases.Add(PeriodTotalsStore.Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3), reader.GetDateTime(4)), reader.GetFieldValue<byte[]>(5));
            }
        }

        var deltas = new Dictionary<PeriodTotalKey, List<byte[]>>();
        if (bases.Count == 0)
        {
            return (bases, deltas); // a delta is only ever written next to a base
        }

        await using (var cmd = new NpgsqlCommand("""
            SELECT d.account, d.sku, d.period_start, d.dimension_group, d.price_from, d.state
            FROM meter_state_deltas d
            JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS k(a, s, p, g, f)
              ON d.account = k.a AND d.sku = k.s AND d.period_start = k.p AND d.dimension_group = k.g AND d.price_from = k.f
            """, connection, tx))
        {
            PeriodTotalsStore.AddKeys(cmd, [.. bases.Keys]);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var key = PeriodTotalsStore.Key(reader.GetString(0), reader.GetString(1), reader.GetDateTime(2), reader.GetString(3), reader.GetDateTime(4));
                if (!deltas.TryGetValue(key, out var list))
                {
                    deltas[key] = list = [];
                }

                list.Add(reader.GetFieldValue<byte[]>(5));
            }
        }

        return (bases, deltas);
    }
}

/// <summary>
/// One metered total in a flush: its merged <paramref name="State"/>, the state of this flush's records alone
/// (<paramref name="Delta"/>, null outside a flush), and how it is stored: whether it has a base row, the base's size,
/// and the deltas written since (their bytes and rows).
/// </summary>
internal sealed record MeterTotal(TouchedTotal Total, MeterAccumulator State, MeterAccumulator? Delta, bool HasBase, long BaseBytes, long DeltaBytes, int DeltaCount);

/// <summary>
/// The meter states of the open totals this writer last committed, so a flush need not read them back (the totals
/// cache's companion: used only for a total that came from <see cref="TotalsCache"/>, whose conditional write guards
/// both). A state handed out by <see cref="Take"/> is the flush's to change; a flush that fails must
/// <see cref="Clear"/> the cache, which never holds a state a failed flush touched. Bounded by the serialised bytes
/// it holds (<see cref="MaxBytes"/>): past it, it starts over. Thread-safe.
/// </summary>
public sealed class MeterStateCache(long maxBytes = 256L << 20)
{
    private readonly Lock _lock = new();
    private Dictionary<PeriodTotalKey, MeterTotal> _states = [];
    private long _bytes;

    /// <summary>Most serialised state bytes held (256 MiB by default).</summary>
    public long MaxBytes { get; } = maxBytes;

    /// <summary>States held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _states.Count;
            }
        }
    }

    internal MeterTotal? Take(PeriodTotalKey key)
    {
        lock (_lock)
        {
            if (_states.Remove(key, out var m))
            {
                _bytes -= m.BaseBytes + m.DeltaBytes;
                return m;
            }

            return null;
        }
    }

    internal void Put(PeriodTotalKey key, MeterTotal m)
    {
        lock (_lock)
        {
            if (_bytes + m.BaseBytes + m.DeltaBytes > MaxBytes)
            {
                _states = [];
                _bytes = 0;
            }

            if (_states.Remove(key, out var old))
            {
                _bytes -= old.BaseBytes + old.DeltaBytes;
            }

            _states[key] = m;
            _bytes += m.BaseBytes + m.DeltaBytes;
        }
    }

    /// <summary>Forgets everything: the next flush reads every state it touches from PostgreSQL.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _states = [];
            _bytes = 0;
        }
    }
}

/// <summary>One metered total's state while a flush merges into it: the Aggregates state of its meter and the period rule that reads it.</summary>
internal abstract class MeterAccumulator(MeterDefinition meter)
{
    protected MeterDefinition Meter { get; } = meter;

    /// <summary>True when the meter needs the window's single records (time_weighted, percentile, latest, unique_count), not only its count, min and max.</summary>
    public bool NeedsRecords => Meter.NeedsRecords;

    /// <summary>Merges one window: its aggregate row and, for a record meter, its single records (with their <paramref name="inputs"/>: latest, unique_count).</summary>
    public abstract void Add(in AggregateRow row, List<KeptTransaction>? records, IReadOnlyList<KeptMeterInput> inputs);

    /// <summary>Merges another state of the same meter (a stored delta).</summary>
    public abstract void Merge(MeterAccumulator other);

    /// <summary>The quantity of <paramref name="total"/>'s range (<see cref="PeriodTotalKey.PricedFrom"/> to <see cref="TouchedTotal.RangeEnd"/>), as of its end.</summary>
    public abstract MeterQuantity Quantity(TouchedTotal total);

    /// <summary>The state as <c>meter_states.state</c> stores it.</summary>
    public abstract byte[] ToBytes();

    public static MeterAccumulator Empty(MeterDefinition meter) => meter.Aggregation switch
    {
        MeterAggregation.Count or MeterAggregation.Max or MeterAggregation.Min => new Extrema(meter, ExtremaState.Empty),
        MeterAggregation.TimeWeighted => new Gauge(meter, new TimeWeightedState(meter.MaxReadings)),
        MeterAggregation.Percentile => new Buckets(meter, new PercentileState(meter.Bucket.Ticks, MeterDefinition.MaxBuckets)),
        MeterAggregation.Latest => new Latest(meter, default),
        MeterAggregation.UniqueCount => new Unique(meter, new UniqueCountState(meter.MaxDistinct)),
        _ => throw new NotSupportedException($"the {meter.AggregationName} meter has no state: the rater sums it"),
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
            case MeterAggregation.Latest:
                if (LatestState.TryRead(bytes, out var latest, out error))
                {
                    read = new Latest(meter, latest);
                }

                break;
            case MeterAggregation.UniqueCount:
                if (UniqueCountState.TryRead(bytes, out var values, out error) && values.MaxDistinct == meter.MaxDistinct)
                {
                    read = new Unique(meter, values);
                }

                // A state kept to another bound would carry a wrong over-bound flag: a bound change is a new SKU (the loader's rule).
                error ??= $"its max_distinct is {values!.MaxDistinct}, the meter's {meter.MaxDistinct}";
                break;
            default:
                error = "a sum meter keeps no state";
                break;
        }

        var key = total.Key;
        return read ?? throw new InvalidDataException($"meter_states of {key.Account}/{key.Sku} period {key.PeriodStart:yyyy-MM-dd} does not read as a {meter.AggregationName} state: {error}");
    }

    private static long Ticks(DateTimeOffset instant) => instant.UtcTicks;

    // A record kept without an input (the engine did not know the meter yet) reads as None, which the meter refuses.
    private static KeptMeterInput InputOf(in KeptTransaction record, IReadOnlyList<KeptMeterInput> inputs) =>
        record.MeterInput > 0 && record.MeterInput <= inputs.Count ? inputs[record.MeterInput - 1] : default;

    /// <summary>count, max, min: the windows' counts and extremes (no single records needed).</summary>
    private sealed class Extrema(MeterDefinition meter, ExtremaState state) : MeterAccumulator(meter)
    {
        private ExtremaState _state = state;

        public override void Add(in AggregateRow row, List<KeptTransaction>? records, IReadOnlyList<KeptMeterInput> inputs) =>
            _state.Merge(new ExtremaState { Count = row.Count, MinNanos = row.MinNanos, MaxNanos = row.MaxNanos });

        public override void Merge(MeterAccumulator other) => _state.Merge(((Extrema)other)._state);

        public override MeterQuantity Quantity(TouchedTotal total) => Meter.Aggregation switch
        {
            MeterAggregation.Count => MeterRules.Count(_state.Count),
            MeterAggregation.Max => MeterRules.Extremum(_state.Count, _state.MaxNanos),
            _ => MeterRules.Extremum(_state.Count, _state.MinNanos),
        };

        public override byte[] ToBytes() => _state.ToBytes();
    }

    /// <summary>A meter built from each record's own event time and quantity (time_weighted, percentile).</summary>
    private abstract class TimedRecords(MeterDefinition meter) : MeterAccumulator(meter)
    {
        public sealed override void Add(in AggregateRow row, List<KeptTransaction>? records, IReadOnlyList<KeptMeterInput> inputs)
        {
            foreach (var r in records!)
            {
                Add(r.TimeTicks, r.QuantityNanos);
            }
        }

        protected abstract void Add(long timeTicks, long nanos);
    }

    /// <summary>time_weighted: every reading, integrated over the total's range.</summary>
    private sealed class Gauge(MeterDefinition meter, TimeWeightedState state) : TimedRecords(meter)
    {
        public override void Merge(MeterAccumulator other) => state.Merge(((Gauge)other).State);

        private TimeWeightedState State => state;

        protected override void Add(long timeTicks, long nanos) => state.Add(timeTicks, nanos);

        public override MeterQuantity Quantity(TouchedTotal total) =>
            TimeWeightedRule.Quantity(Meter, state.Times, state.Levels, state.IsOverBound, Ticks(total.Key.PricedFrom), Ticks(total.RangeEnd), Ticks(total.RangeEnd));

        public override byte[] ToBytes() => state.ToBytes();
    }

    /// <summary>latest: the record with the greatest event time, a tie broken by the greater event id.</summary>
    private sealed class Latest(MeterDefinition meter, LatestState state) : MeterAccumulator(meter)
    {
        private LatestState _state = state;

        public override void Merge(MeterAccumulator other) => _state.Merge(((Latest)other)._state);

        public override void Add(in AggregateRow row, List<KeptTransaction>? records, IReadOnlyList<KeptMeterInput> inputs)
        {
            foreach (var r in records!)
            {
                var input = InputOf(r, inputs);
                if (input.Kind != KeptMeterInputKind.EventId)
                {
                    throw new ArgumentException($"a record of a latest meter's window came without its event id ({input.Kind}): taken in before the engine knew the meter; it is read again");
                }

                _state.Add(r.TimeTicks, input.EventId.Span, r.QuantityNanos);
            }
        }

        public override MeterQuantity Quantity(TouchedTotal total) => MeterRules.Latest(_state.HasValue, _state.ValueNanos);

        public override byte[] ToBytes() => _state.ToBytes();
    }

    /// <summary>unique_count: the fingerprints of the field's distinct values, and the records without the field.</summary>
    private sealed class Unique(MeterDefinition meter, UniqueCountState state) : MeterAccumulator(meter)
    {
        public override void Merge(MeterAccumulator other) => state.Merge(((Unique)other).State);

        private UniqueCountState State => state;

        public override void Add(in AggregateRow row, List<KeptTransaction>? records, IReadOnlyList<KeptMeterInput> inputs)
        {
            foreach (var r in records!)
            {
                var input = InputOf(r, inputs);
                if (input.Kind is not (KeptMeterInputKind.Value or KeptMeterInputKind.MissingValue) || !string.Equals(input.Field, Meter.DimensionKey, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"a record of a unique_count meter's window came without the value of dimensions.{Meter.DimensionKey} ({input.Kind}{(input.Field is null ? "" : " of " + input.Field)}): " +
                        "taken in before the engine knew the meter, or another book meters the SKU's values of another dimension; it is read again");
                }

                if (input.Kind == KeptMeterInputKind.Value)
                {
                    state.Add(input.ValueFingerprint);
                }
                else
                {
                    state.AddMissingField();
                }
            }
        }

        public override MeterQuantity Quantity(TouchedTotal total) => MeterRules.UniqueCount(Meter, state.Count, state.IsOverBound);

        public override byte[] ToBytes() => state.ToBytes();
    }

    /// <summary>percentile: the sum of every bucket with records, ranked over the total's range.</summary>
    private sealed class Buckets(MeterDefinition meter, PercentileState state) : TimedRecords(meter)
    {
        public override void Merge(MeterAccumulator other) => state.Merge(((Buckets)other).State);

        private PercentileState State => state;

        protected override void Add(long timeTicks, long nanos) => state.Add(timeTicks, nanos);

        public override MeterQuantity Quantity(TouchedTotal total) =>
            BurstableRule.Quantity(Meter, state.Indexes, state.Sums, state.IsOverBound, Ticks(total.Key.PricedFrom), Ticks(total.RangeEnd), Ticks(total.RangeEnd));

        public override byte[] ToBytes() => state.ToBytes();
    }
}
