using Metering.Aggregates.Records;
using Npgsql;

namespace Metering.Ledger.Verification;

/// <summary>
/// Checks the ledger in PostgreSQL: per partition and in total read = accepted + duplicates + rejected; accepted
/// quantity (conservation) = quantity in billing-period totals; and, given an expectation (a generator's ground
/// truth), every (account, SKU) total and the balance; every event's chain of corrections
/// (<see cref="CorrectionsAsync"/>). Returns every difference (empty = clean).
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
        // add up exactly to the charged totals plus the adjustment lines. The blobs' windows count through the sums per
        // currency the flush stored beside each blob (exact numerics of the same charges), the row outbox row by row.
        await using (var cmd = db.CreateCommand("""
            SELECT currency, sum(w), sum(t) FROM (
              SELECT currency, amount AS w, 0 AS t FROM rated_windows
              UNION ALL SELECT u.currency, u.amount, 0 FROM rated_window_blobs, unnest(currencies, amounts) AS u(currency, amount)
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

        problems.AddRange((await CorrectionsAsync(db, cancellationToken).ConfigureAwait(false)).Problems);
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

    /// <summary>
    /// Counts the corrections and checks every event's chain: revisions 1, 2, ... without a gap, nothing after a void,
    /// each original quantity equal to the previous correction's new quantity, one SKU and event time per event, booked
    /// no earlier than the event's own period. Corrections are kept beside the totals, never in them, so they take no
    /// part in the conservation checks of <see cref="VerifyAsync"/>; this accounts for each of them.
    /// </summary>
    public static async Task<CorrectionSummary> CorrectionsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var byKind = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var bySku = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        var byCurrency = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        long count = 0;
        await using (var cmd = db.CreateCommand("SELECT kind, coalesce(sku, ''), currency, count(*)::bigint, sum(quantity_delta), sum(amount) FROM corrections GROUP BY 1, 2, 3"))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var n = r.GetInt64(3);
                count += n;
                byKind[r.GetString(0)] = byKind.GetValueOrDefault(r.GetString(0)) + n;
                if (!r.IsDBNull(4))
                {
                    bySku[r.GetString(1)] = bySku.GetValueOrDefault(r.GetString(1)) + r.GetDecimal(4);
                }

                if (!r.IsDBNull(2) && !r.IsDBNull(5))
                {
                    var currency = r.GetString(2).Trim();
                    byCurrency[currency] = byCurrency.GetValueOrDefault(currency) + r.GetDecimal(5);
                }
            }
        }

        var problems = new List<string>();
        await using (var cmd = db.CreateCommand("""
            SELECT id, account, event_id, revision, kind, original_quantity, prev_new, prev_kind, prev_revision, sku = prev_sku AND event_time = prev_time, booked_period_start >= original_period_start
            FROM (SELECT c.*, lag(new_quantity) OVER w AS prev_new, lag(kind) OVER w AS prev_kind, lag(revision) OVER w AS prev_revision,
                    lag(sku) OVER w AS prev_sku, lag(event_time) OVER w AS prev_time
                  FROM corrections c WHERE event_id IS NOT NULL
                  WINDOW w AS (PARTITION BY account, event_id ORDER BY revision)) x
            WHERE booked_period_start < original_period_start
               OR (prev_revision IS NULL AND revision <> 1)
               OR (prev_revision IS NOT NULL AND (revision <> prev_revision + 1 OR prev_kind = 'void' OR original_quantity <> prev_new
                   OR sku <> prev_sku OR event_time <> prev_time))
            ORDER BY account, event_id, revision
            """))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var what = $"correction {r.GetInt64(0)} ({r.GetString(4)} of event {r.GetString(2)} of {r.GetString(1)}, revision {r.GetInt32(3)})";
                if (!r.GetBoolean(10))
                {
                    problems.Add($"{what} is booked before its event's period");
                }

                if (r.IsDBNull(8))
                {
                    if (r.GetInt32(3) != 1)
                    {
                        problems.Add($"{what} is the event's first correction but not revision 1");
                    }

                    continue;
                }

                if (r.GetString(7) == "void")
                {
                    problems.Add($"{what} follows a void of the same event");
                }
                else if (r.GetInt32(3) != r.GetInt32(8) + 1)
                {
                    problems.Add($"{what} follows revision {r.GetInt32(8)}: a revision is missing");
                }
                else if (r.GetDecimal(5) != r.GetDecimal(6))
                {
                    problems.Add($"{what} starts from quantity {r.GetDecimal(5)} but the previous correction left {r.GetDecimal(6)}");
                }
                else if (!r.GetBoolean(9))
                {
                    problems.Add($"{what} names another SKU or event time than the event's earlier corrections");
                }
            }
        }

        return new CorrectionSummary(count, byKind, bySku, byCurrency, problems);
    }
}
