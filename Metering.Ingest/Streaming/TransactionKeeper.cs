using System.Text;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Meters;
using Metering.Aggregates.Records;
using Metering.Ledger.Flush;
using Metering.Ledger.PriceBooks;
using Metering.Rating.Meters;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Keeps, for the next flush, the accepted records of SKUs that some price rates per transaction
/// (<see cref="Metering.Rating.Pricing.SkuPrice.NeedsTransactions"/>: per-transaction minimum or maximum, free
/// transactions, a free amount with a fixed fee) or meters from single records (time_weighted, percentile, latest,
/// unique_count: <see cref="Metering.Rating.PriceBooks.PriceCatalog.SkusKeepingRecords"/>): the aggregator sums them like
/// any record, and the flush rates each one in its period's order or merges it into its meter state
/// (<see cref="FlushBatch.Transactions"/>). The set of such SKUs follows the price-book registry: it is read again when
/// the registry's revision moves, and answered per interned SKU id from a small array, so a record of any other SKU costs
/// one array read (at <see cref="Capture"/>) and one byte of its chunk slot (at <see cref="Offer"/>), and allocates
/// nothing. Owned by the engine's thread.
/// </summary>
/// <remarks>
/// Two steps, because a latest meter needs the record's event id and a unique_count meter a dimension value the
/// aggregate key may drop, and only the admission that parsed the record still has them: <see cref="Capture"/> runs
/// right after the record's admission (before the next record is parsed) and decides, once per record, whether and
/// what to keep, into the record's chunk slot; <see cref="Offer"/> keeps it when the record is applied (accepted, after
/// dedup). A record's decision does not change between the two even if a price book is published in between.
/// </remarks>
internal sealed class TransactionKeeper
{
    // Per SKU id (and per chunk slot, the decision for that record): not looked up yet, not kept, kept with nothing
    // more, kept with its event id, kept with the fingerprint of a dimension value, kept as lacking that dimension.
    private const byte Unknown = 0, No = 1, Plain = 2, Id = 3, Value = 4, MissingValue = 5;

    // Event ids of kept records are copied into blocks of this size: no allocation per record, and a block is never
    // written over, so the ids of a drained batch stay valid while its flush runs.
    private const int IdBlockBytes = 64 * 1024;

    private readonly PriceCatalogSource _prices;
    private List<KeptTransaction> _kept = [];
    private List<KeptMeterInput> _inputs = [];
    private IReadOnlySet<string> _skus = new HashSet<string>();
    private IReadOnlyDictionary<string, MeterDefinition> _meters = new Dictionary<string, MeterDefinition>();
    private long _revision;
    private RecordCatalog? _catalog;
    private byte[] _bySkuId = [];
    private (string Key, byte[] Utf8)?[] _fieldBySkuId = [];

    private readonly byte[] _slotKind;
    private readonly byte[] _slotIds;
    private readonly byte[] _slotIdLengths;
    private readonly UInt128[] _slotValues;
    private readonly string?[] _slotFields;

    private byte[] _idBlock = [];
    private int _idBlockUsed;

    /// <summary>A keeper following <paramref name="prices"/>, for chunks of up to <paramref name="chunkSize"/> records.</summary>
    public TransactionKeeper(PriceCatalogSource prices, int chunkSize)
    {
        _prices = prices;
        _slotKind = new byte[chunkSize];
        _slotIds = new byte[chunkSize * LatestState.MaxIdBytes];
        _slotIdLengths = new byte[chunkSize];
        _slotValues = new UInt128[chunkSize];
        _slotFields = new string?[chunkSize];
        Load();
    }

    /// <summary>Records kept since the last <see cref="Drain"/>.</summary>
    public int Count => _kept.Count;

    /// <summary>
    /// Decides whether the record just admitted by <paramref name="admission"/> from <paramref name="raw"/> (the bytes it
    /// admitted: a Kafka message's value, or a CloudEvent's translated record) is kept, and copies what its meter needs
    /// into chunk slot <paramref name="slot"/>. Call it before the admission parses another record.
    /// </summary>
    public void Capture(int slot, RecordAdmission admission, in UsageRecord record, ReadOnlySpan<byte> raw)
    {
        var catalog = admission.Catalog;
        if (!ReferenceEquals(catalog, _catalog) || _prices.Revision != _revision)
        {
            Refresh(catalog);
        }

        var id = record.SkuId;
        if ((uint)id >= (uint)_bySkuId.Length)
        {
            Array.Resize(ref _bySkuId, Math.Max(id + 1, _bySkuId.Length * 2));
            Array.Resize(ref _fieldBySkuId, _bySkuId.Length);
        }

        var kind = _bySkuId[id];
        if (kind == Unknown)
        {
            _bySkuId[id] = kind = Lookup(catalog.Skus.GetString(id), out _fieldBySkuId[id]);
        }

        if (kind == Id)
        {
            var eventId = admission.AdmittedId(raw);
            eventId.CopyTo(_slotIds.AsSpan(slot * LatestState.MaxIdBytes));
            _slotIdLengths[slot] = (byte)eventId.Length;
        }
        else if (kind == Value)
        {
            var field = _fieldBySkuId[id]!.Value;
            _slotFields[slot] = field.Key;
            if (admission.TryGetAdmittedDimension(field.Utf8, out var value))
            {
                _slotValues[slot] = UniqueCountState.Fingerprint(value);
            }
            else
            {
                kind = MissingValue;
            }
        }

        _slotKind[slot] = kind;
    }

    /// <summary>Keeps the record of chunk slot <paramref name="slot"/>, accepted into the aggregator, when <see cref="Capture"/> decided so.</summary>
    public void Offer(int slot, in UsageRecord record)
    {
        var kind = _slotKind[slot];
        if (kind is No or Unknown)
        {
            return;
        }

        var kept = new KeptTransaction(record.AccountId, record.SkuId, record.DimensionSetId, record.TimeTicks, record.Fingerprint, record.QuantityNanos);
        if (kind != Plain)
        {
            _inputs.Add(kind switch
            {
                Id => new KeptMeterInput(KeptMeterInputKind.EventId, KeepId(_slotIds.AsSpan(slot * LatestState.MaxIdBytes, _slotIdLengths[slot])), default, null),
                Value => new KeptMeterInput(KeptMeterInputKind.Value, default, _slotValues[slot], _slotFields[slot]),
                _ => new KeptMeterInput(KeptMeterInputKind.MissingValue, default, default, _slotFields[slot]),
            });
            kept = kept with { MeterInput = _inputs.Count };
        }

        _kept.Add(kept);
    }

    /// <summary>The records kept so far and their meter inputs (<see cref="KeptTransaction.MeterInput"/>), for a batch; starts new lists.</summary>
    public (List<KeptTransaction> Transactions, List<KeptMeterInput> MeterInputs) Drain()
    {
        var drained = (_kept, _inputs);
        _kept = [];
        _inputs = [];
        return drained;
    }

    /// <summary>Forgets the records kept so far (a rewind: they are read again).</summary>
    public void Clear()
    {
        _kept.Clear();
        _inputs.Clear();
    }

    private ReadOnlyMemory<byte> KeepId(ReadOnlySpan<byte> eventId)
    {
        if (_idBlock.Length - _idBlockUsed < eventId.Length)
        {
            _idBlock = new byte[IdBlockBytes];
            _idBlockUsed = 0;
        }

        eventId.CopyTo(_idBlock.AsSpan(_idBlockUsed));
        var kept = new ReadOnlyMemory<byte>(_idBlock, _idBlockUsed, eventId.Length);
        _idBlockUsed += eventId.Length;
        return kept;
    }

    private byte Lookup(string sku, out (string Key, byte[] Utf8)? field)
    {
        field = null;
        if (!_skus.Contains(sku))
        {
            return No;
        }

        switch (_meters.GetValueOrDefault(sku))
        {
            case { Aggregation: MeterAggregation.Latest }:
                return Id;
            case { Aggregation: MeterAggregation.UniqueCount, DimensionKey: { } key }:
                field = (key, Encoding.UTF8.GetBytes(key));
                return Value;
            default:
                return Plain;
        }
    }

    private void Refresh(RecordCatalog catalog)
    {
        if (_prices.Revision != _revision)
        {
            Load();
        }

        _catalog = catalog;
        Array.Clear(_bySkuId);
        Array.Clear(_fieldBySkuId);
    }

    // Both sets from one snapshot of the registry, so a SKU's meter and whether it is kept never disagree.
    private void Load()
    {
        _revision = _prices.Revision;
        var current = _prices.Current;
        _skus = current?.SkusKeepingRecords() ?? new HashSet<string>();
        _meters = current?.RecordMeters() ?? new Dictionary<string, MeterDefinition>();
    }
}
