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
    private const string Columns = "book_id, version, trim(currency), account, parent, effective_from, effective_to, version_hash, header_hash, document, published_at";

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

    /// <summary>
    /// Publishes <paramref name="candidate"/> (its <see cref="StoredPriceBookVersion.PublishedAt"/> is ignored). Returns
    /// <see cref="PublishResult.Created"/> with the stored version (the database's publish time),
    /// <see cref="PublishResult.Unchanged"/> with the version already stored when it has the same version hash and
    /// header hash, or <see cref="PublishResult.Conflict"/> with a detail naming the published version it collides
    /// with: the same version with other content, another book header, or an overlapping effective range.
    /// </summary>
    public async Task<(PublishResult Result, string? Detail, StoredPriceBookVersion Stored)> PublishAsync(StoredPriceBookVersion candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
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
                if (e.VersionHash == candidate.VersionHash && e.HeaderHash == candidate.HeaderHash)
                {
                    return (PublishResult.Unchanged, null, e);
                }

                return (PublishResult.Conflict, $"version '{e.Version}' of '{e.BookId}' was published on {e.PublishedAt:yyyy-MM-dd'T'HH:mm:ss'Z'} with hash {e.VersionHash}; a published version is immutable: publish a new version instead", e);
            }
        }

        foreach (var e in existing)
        {
            if (e.HeaderHash != candidate.HeaderHash)
            {
                return (PublishResult.Conflict, $"the book header (currency, rounding, billing_period, account, parent) differs from the one published with version '{e.Version}'; it must be the same for every version of '{e.BookId}'", e);
            }

            var overlaps = candidate.EffectiveFrom < (e.EffectiveTo ?? DateTimeOffset.MaxValue) && e.EffectiveFrom < (candidate.EffectiveTo ?? DateTimeOffset.MaxValue);
            if (overlaps)
            {
                return (PublishResult.Conflict, $"effective range overlaps published version '{e.Version}' [{e.EffectiveFrom:yyyy-MM-dd'T'HH:mm:ss'Z'}, {(e.EffectiveTo is { } to ? to.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "open")}); versions of one book must not overlap", e);
            }
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

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (PublishResult.Created, null, candidate with { PublishedAt = publishedAt });
    }

    /// <summary>One document holding every published version of a book (the header of the first), for the loader.</summary>
    public static byte[] Combine(IReadOnlyList<StoredPriceBookVersion> versions)
    {
        ArgumentNullException.ThrowIfNull(versions);
        var root = (JsonObject)JsonNode.Parse(versions[0].Document)!;
        var all = new JsonArray();
        foreach (var v in versions)
        {
            foreach (var item in ((JsonArray)JsonNode.Parse(v.Document)!["versions"]!))
            {
                all.Add(item!.DeepClone());
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

    private static async Task<List<StoredPriceBookVersion>> ReadAll(NpgsqlCommand cmd, CancellationToken cancellationToken)
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
