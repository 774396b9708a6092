using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ledger.Flush;
using Metering.Ledger.PriceBooks;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Keeps, for the next flush, the accepted records of SKUs that some price rates per transaction
/// (<see cref="Metering.Rating.Pricing.SkuPrice.NeedsTransactions"/>: per-transaction minimum or maximum, free
/// transactions, a free amount with a fixed fee) or meters from single records (time_weighted, percentile:
/// <see cref="Metering.Rating.PriceBooks.PriceCatalog.SkusKeepingRecords"/>): the aggregator sums them like any record,
/// and the flush rates each one in its period's order or merges it into its meter state (<see cref="FlushBatch.Transactions"/>). The set of such SKUs follows the price-book
/// registry: it is read again when the registry's revision moves, and answered per interned SKU id from a small
/// array, so a record of any other SKU costs one array read. Owned by the engine's thread.
/// </summary>
internal sealed class TransactionKeeper(PriceCatalogSource prices)
{
    private const byte Unknown = 0, No = 1, Yes = 2;
    private List<KeptTransaction> _kept = [];
    private IReadOnlySet<string> _skus = prices.Current?.SkusKeepingRecords() ?? new HashSet<string>();
    private long _revision = prices.Revision;
    private RecordCatalog? _catalog;
    private byte[] _bySkuId = [];

    /// <summary>Records kept since the last <see cref="Drain"/>.</summary>
    public int Count => _kept.Count;

    /// <summary>Keeps <paramref name="record"/> (accepted into the aggregator under <paramref name="catalog"/>) when its SKU is rated per transaction.</summary>
    public void Offer(RecordCatalog catalog, in UsageRecord record)
    {
        if (!ReferenceEquals(catalog, _catalog) || prices.Revision != _revision)
        {
            Refresh(catalog);
        }

        var id = record.SkuId;
        if ((uint)id >= (uint)_bySkuId.Length)
        {
            Array.Resize(ref _bySkuId, Math.Max(id + 1, _bySkuId.Length * 2));
        }

        var known = _bySkuId[id];
        if (known == Unknown)
        {
            _bySkuId[id] = known = _skus.Contains(catalog.Skus.GetString(id)) ? Yes : No;
        }

        if (known == Yes)
        {
            _kept.Add(new KeptTransaction(record.AccountId, record.SkuId, record.DimensionSetId, record.TimeTicks, record.Fingerprint, record.QuantityNanos));
        }
    }

    /// <summary>The records kept so far, for a batch; starts a new list.</summary>
    public List<KeptTransaction> Drain()
    {
        var kept = _kept;
        _kept = [];
        return kept;
    }

    /// <summary>Forgets the records kept so far (a rewind: they are read again).</summary>
    public void Clear() => _kept.Clear();

    private void Refresh(RecordCatalog catalog)
    {
        if (prices.Revision != _revision)
        {
            _revision = prices.Revision;
            _skus = prices.Current?.SkusKeepingRecords() ?? new HashSet<string>();
        }

        _catalog = catalog;
        Array.Clear(_bySkuId);
    }
}
