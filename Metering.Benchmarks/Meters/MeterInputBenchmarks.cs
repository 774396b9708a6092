using System.Text;
using BenchmarkDotNet.Attributes;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Interning;
using Metering.Ingest.Streaming;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;

namespace Metering.Benchmarks.Meters;

/// <summary>
/// What the engine adds per record to carry a meter's inputs to the flush (<see cref="TransactionKeeper"/>): each
/// record is admitted (parsed, checked, interned) and then offered to the keeper, as the engine does. The baseline admits
/// only; a SKU no meter keeps should cost what it cost before latest and unique_count (one array read, no allocation); a
/// latest SKU copies its id, a unique_count SKU hashes its dimension's value (XXH128), both keep the record for the flush.
/// </summary>
[MemoryDiagnoser]
public class MeterInputBenchmarks
{
    private const int Records = 4096;
    private readonly byte[][] _sum = new byte[Records][];
    private readonly byte[][] _latest = new byte[Records][];
    private readonly byte[][] _unique = new byte[Records][];
    private RecordAdmission _admission = null!;
    private TransactionKeeper _keeper = null!;

    [GlobalSetup]
    public void Setup()
    {
        var book = PriceBookLoader.Load(Encoding.UTF8.GetBytes("""
            { "id": "b", "currency": "USD", "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z", "prices": {
              "cdn.bytes": { "model": "per_unit", "unit_price": "0.01" },
              "seats": { "model": "per_unit", "unit_price": "8.00", "meter": { "aggregation": "latest" } },
              "users": { "model": "per_unit", "unit_price": "2.00", "meter": { "aggregation": "unique_count", "field": "dimensions.user_id" } } } } ] }
            """), "b.json");
        _keeper = new TransactionKeeper(PriceCatalogSource.Fixed(new PriceCatalog(book, [])), 1);
        _admission = new RecordAdmission(new RecordCatalog(), new AdmissionOptions { Decoder = new DecoderOptions() });
        var random = new Random(17);
        for (var i = 0; i < Records; i++)
        {
            string Line(string sku) =>
                $$$"""{"id":"evt-{{{random.Next():x8}}}-{{{i}}}","account":"acct-{{{i % 16}}}","sku":"{{{sku}}}","quantity":"1.5","time":"2026-11-24T10:00:00Z","dimensions":{"region":"eu","user_id":"user-{{{random.Next(1000)}}}"}}""";
            _sum[i] = Encoding.UTF8.GetBytes(Line("cdn.bytes"));
            _latest[i] = Encoding.UTF8.GetBytes(Line("seats"));
            _unique[i] = Encoding.UTF8.GetBytes(Line("users"));
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public long Admit_only()
    {
        long sum = 0;
        foreach (var raw in _sum)
        {
            _admission.Admit(raw, out var record, out _);
            sum += record.QuantityNanos;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int Admit_and_offer_a_sum_sku() => AdmitAndOffer(_sum);

    [Benchmark(OperationsPerInvoke = Records)]
    public int Admit_and_keep_a_latest_sku() => AdmitAndOffer(_latest);

    [Benchmark(OperationsPerInvoke = Records)]
    public int Admit_and_keep_a_unique_count_sku() => AdmitAndOffer(_unique);

    private int AdmitAndOffer(byte[][] lines)
    {
        foreach (var raw in lines)
        {
            _admission.Admit(raw, out var record, out _);
            _keeper.Capture(0, _admission, in record, raw);
            _keeper.Offer(0, in record);
        }

        return _keeper.Drain().Transactions.Count;
    }
}
