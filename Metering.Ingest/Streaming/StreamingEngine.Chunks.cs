using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;
using Metering.Ledger.Flush;

namespace Metering.Ingest.Streaming;

/// <summary>The engine's per-chunk work: admission, dedup, catalog renewal and applying records to the aggregates.</summary>
public sealed partial class StreamingEngine
{
    /// <summary>Messages of one chunk (see <see cref="RunAsync"/>) and their decoded records and verdicts.</summary>
    private const int ChunkSize = 512;

    private enum Verdict : byte
    {
        Accept,
        Duplicate,
        Reject,
    }

    private readonly List<ConsumeResult<Ignore, byte[]>> _chunk = new(ChunkSize);
    private readonly UsageRecord[] _chunkRecords = new UsageRecord[ChunkSize];
    private readonly Verdict[] _chunkVerdicts = new Verdict[ChunkSize];
    private readonly RejectReason[] _chunkReasons = new RejectReason[ChunkSize];
    private readonly string[] _chunkDetails = new string[ChunkSize];
    private readonly SeenId[] _sharedCandidates = new SeenId[ChunkSize];
    private readonly int[] _sharedIndexes = new int[ChunkSize];
    private readonly DedupVerdict[] _sharedSeen = new DedupVerdict[ChunkSize];
    private readonly ulong[] _sharedFirstDigests = new ulong[ChunkSize];
    private readonly SeenId[] _lateCandidates = new SeenId[ChunkSize];
    private readonly int[] _lateIndexes = new int[ChunkSize];
    private readonly DedupVerdict[] _lateVerdicts = new DedupVerdict[ChunkSize];
    private readonly SeenId[] _segmentNew = new SeenId[ChunkSize];
    private readonly CloudEventDecoder? _cloudEvents; // null without --event-mapping: the native path is unchanged

    /// <summary>Records older than the in-memory horizon but within the lateness window, judged against PostgreSQL's seen_id_blocks.</summary>
    public long LateRecords { get; private set; }

    /// <summary>Late records found to be duplicates (or conflicts) of records committed earlier, by the durable store.</summary>
    public long LateArchiveHits => _late.ArchiveHits;

    /// <summary>Records found to be duplicates by the shared store (another instance counted them).</summary>
    public long SharedDuplicates { get; private set; }

    /// <summary>Records rejected as conflicts: their id was accepted before with another payload (own or shared horizon).</summary>
    public long Conflicts { get; private set; }

    /// <summary>Chunks whose shared-dedup lookup failed (Redis unreachable): only the local horizon applied.</summary>
    public long SharedDedupDegradedChunks { get; private set; }

    /// <summary>Catalog renewals: the interning catalog was replaced by a fresh one (half full at a flush, or full).</summary>
    public long CatalogRenewals { get; private set; }

    /// <summary>
    /// Admits and dedups the chunk (own horizon first, then one lookup in the shared store for the records that are
    /// new here), then applies the records in offset order. Returns false when the injected crash point was reached.
    /// Called before any rebalance callback acts, so no message of a revoked partition is left in the chunk.
    /// The catalog never refuses a record: when it is full mid-chunk, the records before are applied and flushed, and
    /// the rest of the chunk is admitted into a fresh catalog (one tenant's many SKUs cannot starve the others).
    /// </summary>
    private bool ProcessChunk()
    {
        var chunk = _chunk;
        if (chunk.Count == 0)
        {
            return true;
        }

        var (read, accepted, duplicates) = (Read, _acceptedTotal, _duplicatesTotal);
        try
        {
            if (_pending == 0 && IsHalfFull(_admission.Catalog))
            {
                // Nothing unflushed refers to the old catalog's ids (the in-flight batch carries its own catalog).
                RenewCatalog("half full");
            }
            else if (_pending == 0 && _prices.Revision != _groupingRevision && !KeepsGroupedDimensions(_admission.Catalog))
            {
                // A newly published version groups its lines by a dimension this catalog drops: keep it from here on.
                RenewCatalog("renewed: a price book groups by new dimensions");
            }

            if (_prices.Revision != _knownSkusRevision)
            {
                // --unknown-sku reject: a SKU a newly published version prices is admitted from this chunk on.
                _knownSkusRevision = _prices.Revision;
                if (_admissionOptions.UnknownSkus == Aggregates.Admission.UnknownSkuPolicy.Reject && _prices.Current?.KnownSkus() is { } known)
                {
                    _admissionOptions = _admissionOptions with { KnownSkus = known };
                    _admission.UseKnownSkus(known);
                }
            }

            _admission.BeginChunk(); // the clock is read per chunk: a quiet worker never judges by a stale clock
            var rewinds = _rewinds;
            var start = 0;
            var fresh = false;
            while (start < chunk.Count)
            {
                var end = AdmitSegment(start, stopOnFullCatalog: !fresh);
                for (var i = start; i < end; i++)
                {
                    Apply(chunk[i], i);
                    if (_options.CrashAfterRecords > 0 && Read >= _options.CrashAfterRecords)
                    {
                        return false;
                    }

                    if (_rewinds != rewinds)
                    {
                        return true; // a flush inside Apply was fenced and rewound every partition: the rest is re-consumed
                    }
                }

                if (end < chunk.Count)
                {
                    // chunk[end] found the catalog full: make everything before it durable under the old catalog.
                    Flush();
                    if (_rewinds != rewinds)
                    {
                        return true;
                    }

                    RenewCatalog("full");
                    _admission.BeginChunk();
                }

                fresh = end < chunk.Count;
                start = end;
            }

            return true;
        }
        finally
        {
            chunk.Clear();
            // Metrics per chunk, not per record: a counter update is cheap, 512 of them are not free.
            Observability.MeteringMetrics.RecordsRead(Read - read);
            Observability.MeteringMetrics.RecordsAccepted(_acceptedTotal - accepted);
            Observability.MeteringMetrics.RecordsDuplicate(_duplicatesTotal - duplicates);
            Observability.MeteringMetrics.SetActiveAggregateKeys(_aggregator.ActiveKeys);
        }
    }

    /// <summary>
    /// Admits and dedups chunk[start..] and returns the end of the segment: the chunk's end, or (with
    /// <paramref name="stopOnFullCatalog"/>) the first record the full catalog refused, which is not judged yet.
    /// </summary>
    private int AdmitSegment(int start, bool stopOnFullCatalog)
    {
        var chunk = _chunk;
        var candidates = 0;
        var lates = 0;
        var segmentNew = 0;
        var repeats = 0; // records the own horizon judged against an id remembered before (duplicate or conflict)
        var end = chunk.Count;
        for (var i = start; i < chunk.Count; i++)
        {
            var message = chunk[i].Message;
            var value = message.Value ?? [];
            ref var record = ref _chunkRecords[i];
            RejectReason reason;
            string detail;
            ReadOnlySpan<byte> admitted = value;
            if (_cloudEvents is not null && CloudEventDecoder.ModeOf(message.Headers) is var mode and not KafkaContentMode.Native)
            {
                // A CloudEvent: translated by the mapping, then admitted by the same rule as a native record.
                record = default;
                reason = _cloudEvents.Kafka(mode, message.Headers, value, out var native, out detail);
                if (reason == RejectReason.None)
                {
                    admitted = native.Span;
                    reason = _admission.Admit(admitted, out record, out detail);
                }
            }
            else
            {
                reason = _admission.Admit(value, out record, out detail);
            }

            if (reason == RejectReason.None)
            {
                // While the admission still holds the record's id and dimensions (a meter may need them at the flush).
                _transactions.Capture(i, _admission, in record, admitted);
            }
            if (reason == RejectReason.CardinalityLimit && stopOnFullCatalog)
            {
                end = i;
                break;
            }

            _chunkVerdicts[i] = Verdict.Reject;
            if (reason == RejectReason.None)
            {
                switch (_dedup.Check(record.Fingerprint, record.PayloadDigest, record.TimeTicks))
                {
                    case DedupVerdict.Duplicate:
                        _chunkVerdicts[i] = Verdict.Duplicate;
                        repeats++;
                        break;
                    case DedupVerdict.Conflict:
                        repeats++;
                        reason = RejectReason.Conflict;
                        detail = ConflictDetail.Of(value, "this engine's dedup horizon");
                        break;
                    case DedupVerdict.Expired when _late.Admits(record.TimeTicks, _dedup.WatermarkTicks):
                        if (_dedup.TryGetDigest(record.Fingerprint, out var firstDigest))
                        {
                            // The horizon holds the id under a later event time: this copy is judged against it.
                            repeats++;
                            if (PayloadDigest.Conflicts(firstDigest, record.PayloadDigest))
                            {
                                reason = RejectReason.Conflict;
                                detail = ConflictDetail.Of(value, "this engine's dedup horizon");
                            }
                            else
                            {
                                _chunkVerdicts[i] = Verdict.Duplicate;
                            }

                            break;
                        }

                        // Older than the memory holds, within the lateness window: judged below, in one lookup.
                        _lateCandidates[lates] = new SeenId(record.Fingerprint, record.PayloadDigest, record.TimeTicks);
                        _lateIndexes[lates++] = i;
                        break;
                    case DedupVerdict.Expired:
                        reason = RejectReason.ExpiredTime;
                        detail = LatenessRule.Detail(_late.Lateness, "the newest record");
                        break;
                    default:
                        _chunkVerdicts[i] = Verdict.Accept;
                        _segmentNew[segmentNew++] = new SeenId(record.Fingerprint, record.PayloadDigest, record.TimeTicks);
                        if (_options.SharedDedup is not null)
                        {
                            _sharedCandidates[candidates] = new SeenId(record.Fingerprint, record.PayloadDigest, record.TimeTicks);
                            _sharedIndexes[candidates++] = i;
                        }

                        break;
                }
            }

            _chunkReasons[i] = reason;
            _chunkDetails[i] = detail;
        }

        if (lates > 0)
        {
            JudgeLate(lates, segmentNew);
        }

        if (candidates > 0)
        {
            if (_options.SharedDedup!.TryFindSeen(_sharedCandidates.AsSpan(0, candidates), _sharedSeen, _sharedFirstDigests))
            {
                for (var j = 0; j < candidates; j++)
                {
                    var i = _sharedIndexes[j];
                    if (_sharedSeen[j] != DedupVerdict.New)
                    {
                        // Another instance counted the id first: its payload is the one later copies are judged against
                        // here, in later chunks (the horizon) and in the rest of this one (re-judged).
                        _dedup.Amend(_sharedCandidates[j].Fingerprint, _sharedFirstDigests[j]);
                        if (repeats > 0)
                        {
                            Rejudge(i + 1, end, _sharedCandidates[j].Fingerprint, _sharedFirstDigests[j]);
                        }
                    }

                    if (_sharedSeen[j] == DedupVerdict.Duplicate)
                    {
                        _chunkVerdicts[i] = Verdict.Duplicate;
                        SharedDuplicates++;
                    }
                    else if (_sharedSeen[j] == DedupVerdict.Conflict)
                    {
                        _chunkVerdicts[i] = Verdict.Reject;
                        _chunkReasons[i] = RejectReason.Conflict;
                        _chunkDetails[i] = ConflictDetail.Of(chunk[i].Message.Value ?? [], "the shared dedup horizon");
                    }
                }
            }
            else
            {
                SharedDedupDegradedChunks++;
            }
        }

        return end;
    }

    /// <summary>
    /// Judges the chunk's late records against the lateness window's store (memory for the uncommitted, PostgreSQL for
    /// the committed). They skip the shared store: Redis remembers ids only for the dedup horizon, and the durable
    /// store answers exactly for every instance of the group.
    /// </summary>
    private void JudgeLate(int lates, int segmentNew)
    {
        _late.Judge(_lateCandidates.AsSpan(0, lates), _lateVerdicts, _segmentNew.AsSpan(0, segmentNew));
        LateRecords += lates;
        for (var j = 0; j < lates; j++)
        {
            var i = _lateIndexes[j];
            switch (_lateVerdicts[j])
            {
                case DedupVerdict.New:
                    _chunkVerdicts[i] = Verdict.Accept;
                    break;
                case DedupVerdict.Duplicate:
                    _chunkVerdicts[i] = Verdict.Duplicate;
                    break;
                default:
                    _chunkVerdicts[i] = Verdict.Reject;
                    _chunkReasons[i] = RejectReason.Conflict;
                    _chunkDetails[i] = ConflictDetail.Of(_chunk[i].Message.Value ?? [], "the lateness window's durable store");
                    break;
            }
        }
    }

    /// <summary>
    /// Re-judges the records of chunk[from..end) with <paramref name="fingerprint"/>: the own horizon compared them
    /// with a copy this instance took for new, but the shared store knew the id first with
    /// <paramref name="firstDigest"/>. Rare (the same id twice in one chunk and known elsewhere), so a plain scan.
    /// </summary>
    private void Rejudge(int from, int end, UInt128 fingerprint, ulong firstDigest)
    {
        for (var k = from; k < end; k++)
        {
            ref readonly var record = ref _chunkRecords[k];
            var judged = _chunkVerdicts[k] == Verdict.Duplicate || (_chunkVerdicts[k] == Verdict.Reject && _chunkReasons[k] == RejectReason.Conflict);
            if (!judged || record.Fingerprint != fingerprint)
            {
                continue;
            }

            if (PayloadDigest.Conflicts(firstDigest, record.PayloadDigest))
            {
                _chunkVerdicts[k] = Verdict.Reject;
                _chunkReasons[k] = RejectReason.Conflict;
                _chunkDetails[k] = ConflictDetail.Of(_chunk[k].Message.Value ?? [], "the shared dedup horizon");
            }
            else
            {
                _chunkVerdicts[k] = Verdict.Duplicate;
                _chunkReasons[k] = RejectReason.None;
                _chunkDetails[k] = "";
            }
        }
    }

    private static bool IsHalfFull(RecordCatalog catalog) =>
        catalog.Accounts.Count > catalog.Accounts.MaxCount / 2 || catalog.Skus.Count > catalog.Skus.MaxCount / 2 ||
        catalog.DimensionSets.Count > catalog.DimensionSets.MaxCount / 2;

    /// <summary>
    /// Replaces the interning catalog. Only called when nothing unflushed holds the old catalog's ids: the batch in
    /// flight carries its own (<see cref="FlushBatch.Catalog"/>). Loud: a full catalog means cardinality far beyond
    /// a normal flush interval's, which an operator wants to know about (metering_catalog_renewals_total).
    /// </summary>
    private void RenewCatalog(string why)
    {
        var old = _admission.Catalog;
        _admission = new RecordAdmission(NewCatalog(), _admissionOptions);
        CatalogRenewals++;
        Observability.MeteringMetrics.CatalogRenewed(why);
        Console.Error.WriteLine($"stream: interning catalog {why} ({old.Accounts.Count:N0}/{old.Accounts.MaxCount:N0} accounts, {old.Skus.Count:N0}/{old.Skus.MaxCount:N0} SKUs, {old.DimensionSets.Count:N0}/{old.DimensionSets.MaxCount:N0} dimension sets): starting a fresh one; no record was refused");
    }

    /// <summary>
    /// A fresh catalog keeping <c>--keep-dimensions</c> plus every dimension the current price books group lines by
    /// (<c>group_by</c>, docs/statements.md "Lines per dimension"), so each window can be put in its group.
    /// </summary>
    private RecordCatalog NewCatalog()
    {
        _groupingRevision = _prices.Revision;
        var dimensions = _options.Pipeline.Dimensions.With(Metering.Rating.PeriodTotals.DimensionGroup.KeysBySku(_prices.Current));
        return new(dimensions, _options.Pipeline.MaxAccounts, _options.Pipeline.MaxSkus, _options.Pipeline.MaxDimensionSets);
    }

    private bool KeepsGroupedDimensions(RecordCatalog catalog)
    {
        _groupingRevision = _prices.Revision;
        return Metering.Rating.PeriodTotals.DimensionGroup.KeysBySku(_prices.Current).All(kv => catalog.Dimensions.Keeps(kv.Key, kv.Value));
    }

    private void Apply(ConsumeResult<Ignore, byte[]> result, int index)
    {
        if (_isolation.Active)
        {
            // Isolating a data fault: flushes are capped, and each record's raw bytes are kept until it is durable.
            if (_pending >= _isolation.Cap)
            {
                var rewinds = _rewinds;
                Flush();
                if (_rewinds != rewinds)
                {
                    return; // that flush failed and rewound: this record is re-consumed
                }
            }

            _isolation.Track(result.Partition.Value, result.Offset.Value, result.Message.Value ?? []);
        }

        var partition = Progress(result.Partition.Value);
        var offset = result.Offset.Value;
        if (partition.NextOffset >= 0 && offset > partition.NextOffset && !_options.AllowOffsetHoles)
        {
            RecordGap(partition, partition.NextOffset, offset, "the broker delivered a later offset: the records between were deleted (retention) before they were read");
        }

        partition.NextOffset = offset + 1;
        partition.Read++;
        Read++;
        _pending++;
        switch (_chunkVerdicts[index])
        {
            case Verdict.Duplicate:
                partition.Duplicates++;
                _duplicatesTotal++;
                return;
            case Verdict.Accept:
                ref var record = ref _chunkRecords[index];
                var rewindsBefore = _rewinds;
                var added = _writer.Add(in record);
                if (added != AddStatus.Added && _options.Pipeline.Aggregator.OnKeyLimit == KeyLimitPolicy.Reject)
                {
                    // --on-key-limit reject: the operator chose a dead letter over an early flush.
                    Observability.MeteringMetrics.AggregateOverflow(1);
                    partition.Rejected++;
                    var detail = $"the aggregate table holds {_aggregator.ActiveKeys:N0} keys, its limit (--on-key-limit reject)";
                    Observability.MeteringMetrics.RecordsRejected(1, RejectReason.AggregateKeyLimit.Code());
                    _deadLetters.Add(new KafkaDeadLetter(result.Partition.Value, offset, RejectReason.AggregateKeyLimit.Code(), detail, result.Message.Value ?? []));
                    return;
                }
                else if (added != AddStatus.Added)
                {
                    // Key limit: flush everything before this record (its offset is not yet consumed), then count it
                    // in the fresh generation.
                    partition.NextOffset = offset;
                    partition.Read--;
                    _pending--;
                    Observability.MeteringMetrics.AggregateOverflow(1);
                    Flush();
                    if (_rewinds != rewindsBefore)
                    {
                        return; // fenced: this record is re-consumed after the rewind
                    }

                    partition = Progress(result.Partition.Value);
                    partition.NextOffset = offset + 1;
                    partition.Read++;
                    _pending++;
                    _writer.Add(in record);
                }

                _transactions.Offer(index, in record);
                partition.Accepted++;
                _acceptedTotal++;
                partition.AcceptedNanos += record.QuantityNanos;
                _seenIds.Add(new SeenId(record.Fingerprint, record.PayloadDigest, record.TimeTicks));
                return;
            default:
                partition.Rejected++;
                if (_chunkReasons[index] == RejectReason.Conflict)
                {
                    Conflicts++;
                    Observability.MeteringMetrics.RecordsConflict(1);
                }

                Observability.MeteringMetrics.RecordsRejected(1, _chunkReasons[index].Code());
                _deadLetters.Add(new KafkaDeadLetter(result.Partition.Value, offset, _chunkReasons[index].Code(), _chunkDetails[index], result.Message.Value ?? []));
                return;
        }
    }
}
