using System.Text.Json;
using System.Text.Json.Nodes;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.PriceBooks;

/// <summary>
/// The price-book registry (docs/pricebooks.md, "The registry"): <c>price_book_versions</c> as the one source of the
/// books the engine, <c>serve</c> and the CLI rate with. Files are published into it (<see cref="PublishFileAsync"/>,
/// idempotent: the version hash is the identity) and catalogs are built only from it (<see cref="LoadAsync(NpgsqlDataSource, string?, CancellationToken)"/>).
/// Thread-safe: static, every call on the caller's connection or its own.
/// </summary>
public static class PriceBookRegistry
{
    /// <summary>The channel every change of <c>price_book_versions</c> is NOTIFYed on (payload: the new revision).</summary>
    public const string Channel = "metering_price_books";

    /// <summary>
    /// Splits a validated price-book file into one stored candidate per version: the file's header with that version
    /// alone, as the API publishes it. Versions come last-starting first: a new version supersedes the registry's
    /// open-ended one before the file's earlier versions, which the file ends where it starts, are compared.
    /// </summary>
    public static IReadOnlyList<StoredPriceBookVersion> Split(PriceBook book, ReadOnlySpan<byte> json)
    {
        ArgumentNullException.ThrowIfNull(book);
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip };
        var root = (JsonObject)JsonNode.Parse(json, documentOptions: options)!;
        string headerHash;
        using (var doc = JsonDocument.Parse(json.ToArray(), options))
        {
            headerHash = PriceBookStore.HeaderHash(doc.RootElement);
        }

        var versions = (JsonArray)root["versions"]!;
        root.Remove("versions");
        var candidates = new List<StoredPriceBookVersion>();
        foreach (var item in versions)
        {
            var name = item!["version"]!.GetValue<string>();
            var v = book.Versions.First(x => x.Version == name);
            var one = (JsonObject)root.DeepClone();
            one["versions"] = new JsonArray(item.DeepClone());
            candidates.Add(new StoredPriceBookVersion(book.Id, v.Version, book.Currency.Code, book.Account, book.Parent, v.EffectiveFrom, v.EffectiveTo,
                v.Hash, headerHash, one.ToJsonString(), default));
        }

        return [.. candidates.OrderByDescending(c => c.EffectiveFrom)];
    }

    /// <summary>
    /// Publishes every version of <paramref name="book"/> (loaded from <paramref name="json"/>) in one transaction;
    /// throws <see cref="PriceBookRegistryException"/> naming the version and both hashes (or the range) when the file
    /// and the registry disagree: nothing of the file is published then.
    /// </summary>
    public static async Task<IReadOnlyList<PublishOutcome>> PublishFileAsync(NpgsqlDataSource db, PriceBook book, byte[] json, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(book);
        if (PriceBookValidation.UnratedMeters(book) is { Count: > 0 } unrated)
        {
            throw new PriceBookRegistryException($"{source}: not published: {string.Join("; ", unrated)}");
        }

        if (await MeterChangesAsync(new PriceBookStore(db), book, cancellationToken).ConfigureAwait(false) is { Count: > 0 } changed)
        {
            throw new PriceBookRegistryException($"{source}: not published: {string.Join("; ", changed)}");
        }

        var outcomes = await new PriceBookStore(db).PublishAllAsync(Split(book, json), cancellationToken).ConfigureAwait(false);
        if (outcomes.Count > 0 && outcomes[^1] is { Result: PublishResult.Conflict } conflict)
        {
            throw new PriceBookRegistryException($"{source}: not published, the registry disagrees: {conflict.Detail}");
        }

        return outcomes;
    }

    /// <summary>
    /// The meters <paramref name="book"/> would change against the versions of it already published
    /// (<see cref="PriceBookValidation.PublishMeterChanges"/>): a SKU keeps one meter in every version, since its
    /// period's meter state carries across a version change. Contracts are checked against their list book when they
    /// load (a contract may not meter a SKU otherwise than its list book), so only list books are read here.
    /// </summary>
    public static async Task<IReadOnlyList<PriceBookError>> MeterChangesAsync(PriceBookStore store, PriceBook book, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(book);
        if (book.IsContract)
        {
            return [];
        }

        var stored = await store.ListAsync(book.Id, cancellationToken).ConfigureAwait(false);
        // A registry book that no longer loads is reported where it is read (LoadAsync); there is nothing to compare here.
        return stored.Count == 0 || PriceBookLoader.Validate(PriceBookStore.Combine(stored)).Book is not { } published
            ? []
            : PriceBookValidation.PublishMeterChanges(book, published.Versions);
    }

    /// <summary>The registry's revision (bumped by every change; <see cref="Channel"/>).</summary>
    public static async Task<long> RevisionAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var cmd = new NpgsqlCommand("SELECT revision FROM price_book_registry", connection, tx);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Builds the catalog from the registry: the list book <paramref name="listBook"/> (null: the registry's only list
    /// book; none: no list book, every contract book) and every contract book whose parent it is. Throws
    /// <see cref="PriceBookRegistryException"/> when the list book is not there, is ambiguous, or a stored book no
    /// longer loads. The revision is read first, so a publish racing the read is seen again by the next check.
    /// </summary>
    public static async Task<RegistrySnapshot> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string? listBook, CancellationToken cancellationToken)
    {
        var revision = await RevisionAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        List<StoredPriceBookVersion> rows;
        await using (var cmd = new NpgsqlCommand($"SELECT {PriceBookStore.Columns} FROM price_book_versions ORDER BY book_id, effective_from", connection, tx))
        {
            rows = await PriceBookStore.ReadAll(cmd, cancellationToken).ConfigureAwait(false);
        }

        var books = rows.GroupBy(r => r.BookId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<StoredPriceBookVersion>)[.. g], StringComparer.Ordinal);
        var lists = books.Where(b => b.Value[0].Account is null).Select(b => b.Key).Order(StringComparer.Ordinal).ToList();
        if (listBook is null && lists.Count > 1)
        {
            throw new PriceBookRegistryException($"the registry holds {lists.Count} list books ({string.Join(", ", lists)}): name the one to rate with (--pricebook-id ID, or --pricebook FILE)");
        }

        listBook ??= lists.FirstOrDefault();
        if (listBook is null)
        {
            return new RegistrySnapshot(revision, null, null);
        }

        if (!books.TryGetValue(listBook, out var listVersions) || listVersions[0].Account is not null)
        {
            throw new PriceBookRegistryException($"the registry holds no list book '{listBook}' (list books: {(lists.Count == 0 ? "none" : string.Join(", ", lists))}); publish it (metering pricebook publish FILE)");
        }

        var list = Load(listVersions, null);
        var contracts = books.Values.Where(b => b[0].Account is not null && b[0].Parent == listBook).Select(b => Load(b, list)).ToList();
        return new RegistrySnapshot(revision, new PriceCatalog(list, contracts), listBook);
    }

    /// <summary><see cref="LoadAsync(NpgsqlConnection, NpgsqlTransaction?, string?, CancellationToken)"/> on a connection of its own.</summary>
    public static async Task<RegistrySnapshot> LoadAsync(NpgsqlDataSource db, string? listBook, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await LoadAsync(connection, null, listBook, cancellationToken).ConfigureAwait(false);
    }

    private static PriceBook Load(IReadOnlyList<StoredPriceBookVersion> versions, PriceBook? parent)
    {
        var (book, errors) = PriceBookLoader.Validate(PriceBookStore.Combine(versions), parent);
        return book ?? throw new PriceBookRegistryException($"the registry's price book '{versions[0].BookId}' does not load: {string.Join("; ", errors)}");
    }
}
