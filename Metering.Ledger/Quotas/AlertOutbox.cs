using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Quotas;

/// <summary>
/// The <c>alerts</c> outbox as its dispatcher reads and records it. <see cref="QuotaEvaluator"/> inserts the rows in the
/// flush transaction; delivery (Kafka, webhook) is the dispatcher's, outside the ledger. Each call is one autocommit
/// statement; the outbox is at least once: an alert delivered and not yet marked is read again, with the same id.
/// </summary>
public static class AlertOutbox
{
    /// <summary>
    /// Up to <paramref name="limit"/> alerts not yet delivered on a channel asked for whose back-off has passed
    /// (<c>next_attempt_at &lt;= now()</c>), oldest crossing first (then id). At least one channel must be asked for.
    /// </summary>
    public static async Task<IReadOnlyList<DueAlert>> LoadDueAsync(NpgsqlDataSource db, bool kafka, bool webhook, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (!kafka && !webhook)
        {
            throw new ArgumentException("ask for Kafka or the webhook, or both: no alert is due on no channel");
        }

        // The predicate names the channels literally, so the planner reads their partial indexes
        // (alerts_*_pending) instead of every alert ever raised.
        var pending = (kafka, webhook) switch
        {
            (true, true) => "(delivered_kafka_at IS NULL OR delivered_webhook_at IS NULL)",
            (true, false) => "delivered_kafka_at IS NULL",
            _ => "delivered_webhook_at IS NULL",
        };
        await using var cmd = db.CreateCommand($"""
            SELECT {Alert.Columns}, delivered_kafka_at IS NULL, delivered_webhook_at IS NULL FROM alerts
            WHERE {pending} AND next_attempt_at <= now()
            ORDER BY crossed_at, id
            LIMIT $1
            """);
        cmd.Parameters.Add(new() { Value = limit });
        var list = new List<DueAlert>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new DueAlert(Alert.Read(reader), kafka && reader.GetBoolean(13), webhook && reader.GetBoolean(14)));
        }

        return list;
    }

    /// <summary>
    /// Records one round in one statement: a channel delivered gets its delivered_*_at (kept if already set), a channel
    /// that failed keeps it null; attempts add up, the last error is kept, and a failed alert backs off
    /// 2^attempts seconds, at most <paramref name="maxBackOff"/>, before the next round tries it again.
    /// </summary>
    public static async Task MarkAsync(NpgsqlDataSource db, IReadOnlyList<AlertDelivery> deliveries, TimeSpan maxBackOff, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(deliveries);
        await using var cmd = db.CreateCommand("""
            UPDATE alerts a SET
              delivered_kafka_at = CASE WHEN u.kafka THEN coalesce(a.delivered_kafka_at, now()) ELSE a.delivered_kafka_at END,
              delivered_webhook_at = CASE WHEN u.webhook THEN coalesce(a.delivered_webhook_at, now()) ELSE a.delivered_webhook_at END,
              attempts = a.attempts + u.attempts,
              last_error = coalesce(u.error, a.last_error),
              next_attempt_at = CASE WHEN u.failed
                THEN now() + least($7::interval, interval '1 second' * power(2, least(a.attempts + u.attempts, 20)))
                ELSE a.next_attempt_at END
            FROM unnest($1::uuid[], $2::boolean[], $3::boolean[], $4::int[], $5::text[], $6::boolean[]) AS u(id, kafka, webhook, attempts, error, failed)
            WHERE a.id = u.id
            """);
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.AlertId).ToArray() });
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.Kafka).ToArray() });
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.Webhook).ToArray() });
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.Attempts).ToArray() });
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.Error).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = deliveries.Select(d => d.Failed).ToArray() });
        cmd.Parameters.Add(new() { Value = maxBackOff });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
