using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ingest.Pipeline;

namespace Metering.DevKit.Workload;

/// <summary>Compares a pipeline result with the generator's ground truth; lists every difference.</summary>
public static class GroundTruthCheck
{
    /// <summary>Returns the differences (empty = exact match) between <paramref name="result"/> and <paramref name="truth"/>.</summary>
    public static List<string> Compare(GroundTruth truth, PipelineResult result, RecordCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(catalog);
        var problems = new List<string>();
        void Expect(string what, long expected, long actual)
        {
            if (expected != actual)
            {
                problems.Add($"{what}: expected {expected}, got {actual}");
            }
        }

        Expect("read", truth.Read, result.Read);
        Expect("accepted", truth.Accepted, result.Accepted);
        Expect("duplicates", truth.Duplicates, result.Duplicates);
        for (var r = 1; r < RejectReasons.Count; r++)
        {
            var code = ((RejectReason)r).Code();
            Expect("rejected " + code, truth.Rejected.GetValueOrDefault(code), result.RejectedByReason[r]);
        }

        var actual = new Dictionary<(string, string), (long Count, Int128 Nanos)>();
        foreach (var row in result.Rows)
        {
            var key = (catalog.Accounts.GetString(row.AccountId), catalog.Skus.GetString(row.SkuId));
            var t = actual.GetValueOrDefault(key);
            actual[key] = (t.Count + row.Count, t.Nanos + row.SumNanos);
        }

        foreach (var total in truth.Totals)
        {
            var key = (total.Account, total.Sku);
            var got = actual.GetValueOrDefault(key);
            actual.Remove(key);
            var expectedNanos = FixedPoint.ParseSum(total.Quantity);
            if (got.Count != total.Count || got.Nanos != expectedNanos)
            {
                problems.Add($"{total.Account}/{total.Sku}: expected count {total.Count} quantity {total.Quantity}, got count {got.Count} quantity {FixedPoint.Format(got.Nanos)}");
            }
        }

        foreach (var ((account, sku), got) in actual)
        {
            problems.Add($"{account}/{sku}: not in the ground truth, got count {got.Count} quantity {FixedPoint.Format(got.Nanos)}");
        }

        return problems;
    }

    /// <summary>Sums rows per (account, SKU) for display.</summary>
    public static IEnumerable<(string Account, string Sku, long Count, Int128 Nanos)> TotalsBySku(IEnumerable<AggregateRow> rows, RecordCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return rows.GroupBy(r => r.SkuId)
            .Select(g => ("*", catalog.Skus.GetString(g.Key), g.Sum(r => r.Count), g.Aggregate(Int128.Zero, (s, r) => s + r.SumNanos)))
            .OrderBy(t => t.Item2, StringComparer.Ordinal);
    }
}
