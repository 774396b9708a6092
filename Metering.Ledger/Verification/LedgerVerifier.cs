using Metering.Aggregates.Records;
using Npgsql;

namespace Metering.Ledger.Verification;

/// <summary>
/// Checks the ledger in PostgreSQL: per partition and in total read = accepted + duplicates + rejected; accepted
/// quantity (conservation) = quantity in billing-period totals; and, given an expectation (a generator's ground
/// truth), every (account, SKU) total and the balance. Returns every difference (empty = clean).
/// </summary>
public static class LedgerVerifier
{
    /// <summary>Verifies the ledger for <paramref name="group"/>/<paramref name="topic"/>.</summary>
    public static async Task<List<string>> VerifyAsync(NpgsqlDataSource db, string group, string topic, LedgerExpectation? truth, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var problems = new List<string>();
        long read = 0, accepted = 0, duplicates = 0, rejected = 0;
        decimal acceptedQuantity = 0;
        await using (var cmd = db.CreateCommand("SELECT partition, read, accepted, duplicates, rejected, accepted_quantity FROM conservation WHERE consumer_group = $1 AND topic = $2 ORDER BY partition"))
        {
            cmd.Parameters.Add(new() { Value = group });
            cmd.Parameters.Add(new() { Value = topic });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var (p, rd, ac, du, rj, q) = (r.GetInt32(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetDecimal(5));
                if (rd != ac + du + rj)
                {
                    problems.Add($"partition {p}: read {rd} != accepted {ac} + duplicates {du} + rejected {rj}");
                }

                read += rd;
                accepted += ac;
                duplicates += du;
                rejected += rj;
                acceptedQuantity += q;
            }
        }

        await using (var cmd = db.CreateCommand("SELECT partition, from_offset, to_offset FROM offset_gaps WHERE consumer_group = $1 AND topic = $2 ORDER BY partition, from_offset"))
        {
            cmd.Parameters.Add(new() { Value = group });
            cmd.Parameters.Add(new() { Value = topic });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                problems.Add($"partition {r.GetInt32(0)}: offsets {r.GetInt64(1)}..{r.GetInt64(2) - 1} ({r.GetInt64(2) - r.GetInt64(1)} records) were deleted by the broker before they were consumed (data loss)");
            }
        }

        var totals = new Dictionary<(string, string), (long Count, decimal Quantity)>();
        await using (var cmd = db.CreateCommand("""
            SELECT account, sku, sum(c)::bigint, sum(q) FROM (
              SELECT account, sku, record_count AS c, quantity AS q FROM billing_period_totals
              UNION ALL SELECT account, sku, record_count, quantity FROM adjustments) t
            GROUP BY account, sku
            """))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                totals[(r.GetString(0), r.GetString(1))] = (r.GetInt64(2), r.GetDecimal(3));
            }
        }

        var totalQuantity = totals.Values.Sum(t => t.Quantity);
        if (totalQuantity != acceptedQuantity)
        {
            problems.Add($"accepted quantity {acceptedQuantity} (conservation) != {totalQuantity} in billing_period_totals + adjustments");
        }

        if (totals.Values.Sum(t => t.Count) != accepted)
        {
            problems.Add($"accepted records {accepted} (conservation) != {totals.Values.Sum(t => t.Count)} in billing_period_totals + adjustments");
        }

        // Money conservation: the rated windows (outbox) carry each window's incremental charge, so per currency they
        // add up exactly to the charged totals plus the adjustment lines.
        await using (var cmd = db.CreateCommand("""
            SELECT currency, sum(w), sum(t) FROM (
              SELECT currency, amount AS w, 0 AS t FROM rated_windows
              UNION ALL SELECT currency, 0, amount FROM billing_period_totals
              UNION ALL SELECT currency, 0, amount FROM adjustments) x
            GROUP BY currency HAVING sum(w) <> sum(t)
            """))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                problems.Add($"{r.GetString(0).Trim()}: rated windows add up to {r.GetDecimal(1)} but totals + adjustments charge {r.GetDecimal(2)}");
            }
        }

        if (truth is null)
        {
            return problems;
        }

        void Expect(string what, long expected, long actual)
        {
            if (expected != actual)
            {
                problems.Add($"{what}: expected {expected}, got {actual}");
            }
        }

        Expect("read", truth.Read, read);
        Expect("accepted", truth.Accepted, accepted);
        Expect("duplicates", truth.Duplicates, duplicates);
        Expect("rejected", truth.Rejected, rejected);
        foreach (var t in truth.Totals)
        {
            var got = totals.GetValueOrDefault((t.Account, t.Sku));
            totals.Remove((t.Account, t.Sku));
            FixedPoint.TryToDecimal(FixedPoint.ParseSum(t.Quantity), out var expected);
            if (got.Count != t.Count || got.Quantity != expected)
            {
                problems.Add($"{t.Account}/{t.Sku}: expected count {t.Count} quantity {t.Quantity}, got count {got.Count} quantity {got.Quantity}");
            }
        }

        foreach (var ((account, sku), got) in totals)
        {
            problems.Add($"{account}/{sku}: not in the ground truth (count {got.Count}, quantity {got.Quantity})");
        }

        return problems;
    }
}
