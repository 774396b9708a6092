using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

namespace Metering.Ledger.PriceBooks;

/// <summary>
/// Published price-book versions in PostgreSQL. A version is immutable: the same (book, version) published again with
/// the same version hash and book header is a no-op; anything else is a conflict. Publishing holds a transaction-level
/// advisory lock per book, so the overlap and header checks cannot race another publish of the same book.
/// Thread-safe: every call uses its own connection from the data source.
/// </summary>
/// <param name="db">The ledger database.</param>
public sealed class PriceBookStore(NpgsqlDataSource db)
{
    internal const string Columns = "book_id, version, trim(currency), account, parent, effective_from, effective_to, version_hash, header_hash, document, published_at";

    /// <summary>Every published version, or those of <paramref name="bookId"/> (null: all books), ordered by book and effective start.</summary>
    public async Task<IReadOnlyList<StoredPriceBookVersion>> ListAsync(string? bookId, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM price_book_versions WHERE $1::text IS NULL OR book_id = $1 ORDER BY book_id, effective_from");
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)bookId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await ReadAll(cmd, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One published version; null when <paramref name="bookId"/> has no version <paramref name="version"/>.</summary>
    public async Task<StoredPriceBookVersion?> GetAsync(string bookId, string version, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM price_book_versions WHERE book_id = $1 AND version = $2");
        cmd.Parameters.Add(new NpgsqlParameter { Value = bookId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = version });
        var rows = await ReadAll(cmd, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>The published version whose hash is <paramref name="hash"/>; null when none is (see docs/api.md, "Price books").</summary>
    public async Task<StoredPriceBookVersion?> GetByHashAsync(string hash, CancellationToken cancellationToken)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM price_book_versions WHERE version_hash = $1 ORDER BY published_at LIMIT 1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = hash });
        var rows = await ReadAll(cmd, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>
    /// Publishes <paramref name="candidate"/> (its <see cref="StoredPriceBookVersion.PublishedAt"/> is ignored). Returns
    /// <see cref="PublishResult.Created"/> with the stored version (the database's publish time),
    /// <see cref="PublishResult.Unchanged"/> with the version already stored when it has the same version hash and
    /// header hash, or <see cref="PublishResult.Conflict"/> with a detail naming the published version it collides
    /// with: the same version with other content, another book header, an overlapping effective range, or a range
    /// that meets a closed period or usage already rated otherwise (<see cref="PublishInAsync"/>).
    /// </summary>
    public async Task<(PublishResult Result, string? Detail, StoredPriceBookVersion Stored)> PublishAsync(StoredPriceBookVersion candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var outcome = await PublishInAsync(connection, tx, candidate, cancellationToken).ConfigureAwait(false);
        if (outcome.Result == PublishResult.Conflict)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return (outcome.Result, outcome.Detail, outcome.Stored);
    }

    /// <summary>
    /// Publishes every version of one book (a price-book file split into its versions) in ONE transaction, in the
    /// order given: all of them or, at the first conflict, none. Returns each version's outcome (up to the conflict).
    /// </summary>
    public async Task<IReadOnlyList<PublishOutcome>> PublishAllAsync(IReadOnlyList<StoredPriceBookVersion> candidates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var outcomes = new List<PublishOutcome>();
        foreach (var c in candidates)
        {
            var outcome = await PublishInAsync(connection, tx, c, cancellationToken).ConfigureAwait(false);
            outcomes.Add(outcome);
            if (outcome.Result == PublishResult.Conflict)
            {
                await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return outcomes;
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return outcomes;
    }

    /// <summary>
    /// Publishes <paramref name="candidate"/> inside <paramref name="tx"/>. The rules (docs/pricebooks.md, "The registry"):
    /// a version is identified by its hash: the same (book, version) with the same hash and header is unchanged (an
    /// open end in the document accepts the end the registry set; another end is a conflict); other content under a
    /// stored version is a conflict naming both hashes. A new version that starts after the book's open-ended version
    /// supersedes it from its effective instant (that version's end is set; its hash does not change); any other
    /// overlap is a conflict. A new range [from, to) that meets a closed period, or billing-period totals rated by
    /// anything but this very version, is refused: that range changes only through re-rating. Holds the book's advisory
    /// lock and, exclusively, the flush/close lock (<see cref="PeriodClose.PeriodCloser.CloseLockKey"/>): no flush
    /// commits totals between the check and the publish, and every flush after it rates with the new version.
    /// </summary>
    public static async Task<PublishOutcome> PublishInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, StoredPriceBookVersion candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(candidate);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('price_book:' || $1, 0))", connection, tx))
        {
            lockCmd.Parameters.Add(new NpgsqlParameter { Value = candidate.BookId });
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        List<StoredPriceBookVersion> existing;
        await using (var cmd = new NpgsqlCommand($"SELECT {Columns} FROM price_book_versions WHERE book_id = $1 ORDER BY effective_from", connection, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = candidate.BookId });
            existing = await ReadAll(cmd, cancellationToken).ConfigureAwait(false);
        }

        foreach (var e in existing)
        {
            if (e.Version == candidate.Version)
            {
                if (e.VersionHash != candidate.VersionHash)
                {
                    return Conflict($"version '{e.Version}' of '{e.BookId}' is published with hash {e.VersionHash} (on {Instant(e.PublishedAt)}); this document's version '{e.Version}' has hash {candidate.VersionHash}. A published version is immutable: publish the change as a new version", e);
                }

                if (e.HeaderHash != candidate.HeaderHash)
                {
                    return Conflict($"version '{e.Version}' of '{e.BookId}' is published with another book header (currency, rounding, billing_period, account, parent, quotas): header hash {e.HeaderHash}, this document's {candidate.HeaderHash}", e);
                }

                if (candidate.EffectiveTo is { } to && to != e.EffectiveTo)
                {
                    return Conflict($"version '{e.Version}' of '{e.BookId}' (hash {e.VersionHash}) is published effective [{Instant(e.EffectiveFrom)}, {Range(e.EffectiveTo)}); this document ends it at {Instant(to)}. A version's end is set by publishing the version that follows it", e);
                }

                return new PublishOutcome(PublishResult.Unchanged, null, e, null);
            }
        }

        StoredPriceBookVersion? superseded = null;
        foreach (var e in existing)
        {
            if (e.HeaderHash != candidate.HeaderHash)
            {
                return Conflict($"the book header (currency, rounding, billing_period, account, parent, quotas) differs from the one published with version '{e.Version}' (header hash {e.HeaderHash}, this document's {candidate.HeaderHash}); it must be the same for every version of '{e.BookId}'", e);
            }

            if (e.EffectiveTo is null && e.EffectiveFrom < candidate.EffectiveFrom)
            {
                superseded = e; // the open-ended version the candidate follows: it ends where the candidate starts
                continue;
            }

            var overlaps = candidate.EffectiveFrom < (e.EffectiveTo ?? DateTimeOffset.MaxValue) && e.EffectiveFrom < (candidate.EffectiveTo ?? DateTimeOffset.MaxValue);
            if (overlaps)
            {
                return Conflict($"effective range [{Instant(candidate.EffectiveFrom)}, {Range(candidate.EffectiveTo)}) overlaps published version '{e.Version}' [{Instant(e.EffectiveFrom)}, {Range(e.EffectiveTo)}); versions of one book must not overlap (a version after the open-ended one supersedes it)", e);
            }
        }

        await using (var closeLock = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, tx))
        {
            closeLock.Parameters.Add(new NpgsqlParameter { Value = PeriodClose.PeriodCloser.CloseLockKey });
            await closeLock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (await RatedRangeProblemAsync(connection, tx, candidate, cancellationToken).ConfigureAwait(false) is { } problem)
        {
            return Conflict(problem, superseded ?? candidate);
        }

        if (superseded is not null)
        {
            await using var end = new NpgsqlCommand("UPDATE price_book_versions SET effective_to = $3 WHERE book_id = $1 AND version = $2", connection, tx);
            end.Parameters.Add(new NpgsqlParameter { Value = superseded.BookId });
            end.Parameters.Add(new NpgsqlParameter { Value = superseded.Version });
            end.Parameters.Add(new NpgsqlParameter { Value = candidate.EffectiveFrom });
            await end.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        DateTimeOffset publishedAt;
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO price_book_versions (book_id, version, currency, account, parent, effective_from, effective_to, version_hash, header_hash, document)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING published_at
            """, connection, tx))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.BookId });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.Version });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.Currency });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)candidate.Account ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)candidate.Parent ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.EffectiveFrom });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)candidate.EffectiveTo ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.VersionHash });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.HeaderHash });
            insert.Parameters.Add(new NpgsqlParameter { Value = candidate.Document });
            publishedAt = new DateTimeOffset((DateTime)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!, TimeSpan.Zero);
        }

        return new PublishOutcome(PublishResult.Created, null, candidate with { PublishedAt = publishedAt }, superseded?.Version);

        static PublishOutcome Conflict(string detail, StoredPriceBookVersion with) => new(PublishResult.Conflict, detail, with, null);
    }

    /// <summary>
    /// Why <paramref name="candidate"/>'s range [from, to) may not take effect, or null: a billing-period total in it
    /// rated by anything but this very version (book, version and hash), for the accounts the book prices (a list
    /// book: every total it or nothing priced; a contract: its account's), or a closed period in it unless totals
    /// rated by this version show that it is what the period was billed with. A total counts when its period ends
    /// after the range starts and starts before it ends, and, in the period the range starts inside, when a window
    /// at or after the instant went into it: a version may take effect inside an open period after the usage already
    /// rated (windows from its instant on are priced by it, docs/pricebooks.md).
    /// </summary>
    private static async Task<string?> RatedRangeProblemAsync(NpgsqlConnection connection, NpgsqlTransaction tx, StoredPriceBookVersion candidate, CancellationToken cancellationToken)
    {
        const string InRange = "period_end > $1 AND ($2::timestamptz IS NULL OR period_start < $2)";
        // A version taking effect inside a period meets only the usage rated at or after its instant (windows start on
        // whole hours, as versions do); a total written before windows were tracked (NULL) counts as rated throughout.
        const string RatedAfter = "(period_start >= $1 OR last_window_start IS NULL OR last_window_start >= $1)";
        const string Scope = "(($3::text IS NULL AND price_book IN ($4, 'unpriced')) OR account = $3)";
        const string ThisVersion = "price_book = $4 AND price_book_version = $5 AND price_book_hash = $6";
        await using var cmd = new NpgsqlCommand($"""
            SELECT 'rated', account, sku, period_start, period_end, price_book || ' ' || price_book_version || ' ' || price_book_hash
              FROM billing_period_totals WHERE {InRange} AND {RatedAfter} AND {Scope} AND NOT ({ThisVersion})
            UNION ALL
            SELECT 'closed', NULL, NULL, p.period_start, p.period_end, NULL
              FROM (SELECT period_start, period_end FROM closed_periods UNION ALL SELECT period_start, period_end FROM closed_rule_periods) p
             WHERE {InRange.Replace("period_", "p.period_", StringComparison.Ordinal)}
               AND NOT EXISTS (SELECT 1 FROM billing_period_totals t WHERE t.period_start >= p.period_start AND t.period_start < p.period_end AND {Scope} AND {ThisVersion})
            ORDER BY 1 DESC, 4
            LIMIT 1
            """, connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = candidate.EffectiveFrom });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)candidate.EffectiveTo ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)candidate.Account ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = candidate.BookId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = candidate.Version });
        cmd.Parameters.Add(new NpgsqlParameter { Value = candidate.VersionHash });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var period = $"[{Instant(r.GetFieldValue<DateTimeOffset>(3))}, {Instant(r.GetFieldValue<DateTimeOffset>(4))})";
        var range = $"version '{candidate.Version}' of '{candidate.BookId}' (hash {candidate.VersionHash}) effective [{Instant(candidate.EffectiveFrom)}, {Range(candidate.EffectiveTo)})";
        return r.GetString(0) == "closed"
            ? $"{range} takes effect in the closed period {period}; a closed period changes only through re-rating (metering rerate, docs/statements.md): make it effective at or after {Instant(r.GetFieldValue<DateTimeOffset>(4))}"
            : $"{range} takes effect where usage is already rated otherwise: {r.GetString(1)}/{r.GetString(2)} in period {period} was rated by {r.GetString(5)}; rated usage changes only through re-rating (metering rerate, docs/statements.md): make it effective at or after {Instant(r.GetFieldValue<DateTimeOffset>(4))}";
    }

    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Range(DateTimeOffset? to) => to is { } t ? Instant(t) : "open";

    /// <summary>
    /// One document holding every published version of a book (the header of the first), for the loader. Each
    /// version's end is the registry's (set when a later version superseded it), not the one in its document.
    /// </summary>
    public static byte[] Combine(IReadOnlyList<StoredPriceBookVersion> versions)
    {
        ArgumentNullException.ThrowIfNull(versions);
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip };
        var root = (JsonObject)JsonNode.Parse(versions[0].Document, documentOptions: options)!;
        var all = new JsonArray();
        foreach (var v in versions)
        {
            foreach (var item in (JsonArray)JsonNode.Parse(v.Document, documentOptions: options)!["versions"]!)
            {
                var version = (JsonObject)item!.DeepClone();
                if (version["version"]?.GetValue<string>() == v.Version)
                {
                    version.Remove("effective_to");
                    if (v.EffectiveTo is { } to)
                    {
                        version["effective_to"] = Instant(to);
                    }
                }

                all.Add(version);
            }
        }

        root["versions"] = all;
        return JsonSerializer.SerializeToUtf8Bytes(root);
    }

    /// <summary>SHA-256 over the canonical JSON (keys sorted, no whitespace) of the book header: every member but versions and description.</summary>
    public static string HeaderHash(JsonElement root)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var p in root.EnumerateObject().Where(p => p.Name is not ("versions" or "description")).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                w.WritePropertyName(p.Name);
                WriteCanonical(w, p.Value);
            }

            w.WriteEndObject();
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    private static void WriteCanonical(Utf8JsonWriter w, JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            w.WriteStartObject();
            foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                w.WritePropertyName(p.Name);
                WriteCanonical(w, p.Value);
            }

            w.WriteEndObject();
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            w.WriteStartArray();
            foreach (var item in e.EnumerateArray())
            {
                WriteCanonical(w, item);
            }

            w.WriteEndArray();
        }
        else
        {
            e.WriteTo(w);
        }
    }

    internal static async Task<List<StoredPriceBookVersion>> ReadAll(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        var list = new List<StoredPriceBookVersion>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new StoredPriceBookVersion(
                r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.GetFieldValue<DateTimeOffset>(5), r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6),
                r.GetString(7), r.GetString(8), r.GetString(9), r.GetFieldValue<DateTimeOffset>(10)));
        }

        return list;
    }
}
