using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Metering.Web.Api;

/// <summary>Price-book endpoints: list, read and publish versions (docs/api.md, docs/pricebooks.md).</summary>
internal static class PriceBookEndpoints
{
    /// <summary>Policy: billing:read or pricebooks:write (or admin).</summary>
    public const string ReadPolicy = "pricebooks:read";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/pricebooks", List)
            .RequireAuthorization(ReadPolicy)
            .WithName("ListPriceBooks")
            .WithTags("pricebooks")
            .WithSummary("Published price books and their versions (scope billing:read or pricebooks:write; an account-bound token sees list books and its own contract books).")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        app.MapGet("/v1/pricebooks/{id}/versions/{version}", Get)
            .RequireAuthorization(ReadPolicy)
            .WithName("GetPriceBookVersion")
            .WithTags("pricebooks")
            .WithSummary("One published price-book version, with its hash and the document as published.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/v1/pricebooks/by-hash/{hash}", GetByHash)
            .RequireAuthorization(ReadPolicy)
            .WithName("GetPriceBookVersionByHash")
            .WithTags("pricebooks")
            .WithSummary("The published price-book version with this hash (sha256:...): every price_book_hash on a rated total, a rated window, an adjustment or a statement line resolves here.")
            .Produces<PriceBookVersionResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapPut("/v1/pricebooks/{id}/versions/{version}", Put)
            .RequireAuthorization(ApiScopes.PriceBooksWrite)
            .WithName("PublishPriceBookVersion")
            .WithTags("pricebooks")
            .WithSummary("Publishes a price-book version: the body is a price-book document with exactly this one version. Immutable once published: the same content again is 200, different content 409 (scope pricebooks:write).")
            .Accepts<JsonElement>("application/json")
            .Produces<PriceBookVersionResponse>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
    }

    private static async Task<Ok<PriceBookList>> List(HttpContext http, PriceBookStore store, CancellationToken cancellationToken)
    {
        var rows = await store.ListAsync(null, cancellationToken).ConfigureAwait(false);
        var books = rows
            .Where(r => r.Account is null || ApiScopes.MayRead(http.User, r.Account))
            .GroupBy(r => r.BookId, StringComparer.Ordinal)
            .Select(g => new PriceBookSummary(g.Key, g.First().Currency, g.First().Account, g.First().Parent,
                g.Select(v => new PriceBookVersionSummary(v.Version, v.EffectiveFrom, v.EffectiveTo, v.VersionHash, v.PublishedAt)).ToList()))
            .ToList();
        return TypedResults.Ok(new PriceBookList(books));
    }

    private static async Task<Results<Ok<PriceBookVersionResponse>, ValidationProblem, ProblemHttpResult>> Get(
        HttpContext http, PriceBookStore store, string id, string version, CancellationToken cancellationToken)
    {
        if (RouteProblems(id, version) is { } invalid)
        {
            return invalid;
        }

        var stored = await store.GetAsync(id, version, cancellationToken).ConfigureAwait(false);
        if (stored is null || (stored.Account is not null && !ApiScopes.MayRead(http.User, stored.Account)))
        {
            return ApiProblems.NotFound($"price book '{id}' has no published version '{version}'");
        }

        return TypedResults.Ok(Response(stored));
    }

    private static async Task<Results<Ok<PriceBookVersionResponse>, ValidationProblem, ProblemHttpResult>> GetByHash(
        HttpContext http, PriceBookStore store, string hash, CancellationToken cancellationToken)
    {
        if (!(hash.Length == 71 && hash.StartsWith("sha256:", StringComparison.Ordinal) && !hash.AsSpan(7).ContainsAnyExcept("0123456789abcdef")))
        {
            return ApiProblems.Invalid("hash", "must be a version hash: sha256: and 64 lowercase hex digits");
        }

        var stored = await store.GetByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (stored is null || (stored.Account is not null && !ApiScopes.MayRead(http.User, stored.Account)))
        {
            return ApiProblems.NotFound($"no published price-book version has hash {hash}");
        }

        return TypedResults.Ok(Response(stored));
    }

    private static async Task<Results<Created<PriceBookVersionResponse>, Ok<PriceBookVersionResponse>, ValidationProblem, ProblemHttpResult>> Put(
        HttpContext http, PriceBookStore store, ApiOptions options, string id, string version, CancellationToken cancellationToken)
    {
        if (RouteProblems(id, version) is { } invalid)
        {
            return invalid;
        }

        if (!http.Request.HasJsonContentType())
        {
            return TypedResults.Problem($"the body must be a JSON price book (Content-Type: application/json), got '{http.Request.ContentType}'", statusCode: StatusCodes.Status415UnsupportedMediaType, title: "unsupported media type", type: "urn:metering:problem:media-type");
        }

        var body = await ReadCapped(http.Request.BodyReader, options.MaxPriceBookBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return TypedResults.Problem($"the price book is larger than {options.MaxPriceBookBytes} bytes", statusCode: StatusCodes.Status413PayloadTooLarge, title: "payload too large", type: "urn:metering:problem:too-large");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            var syntax = PriceBookValidation.SyntaxError(body, e);
            return ApiProblems.Invalid(syntax.Path, syntax.Message);
        }

        using (doc)
        {
            // Before the header checks below, which read one of two repeated keys as the loader would (silently).
            if (JsonDuplicateKeyCheck.Find(body) is { Count: > 0 } duplicates)
            {
                return Invalid(duplicates);
            }

            var root = doc.RootElement;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ApiProblems.Invalid("$", "must be a price-book object (docs/pricebooks.md)");
            }

            if (!root.TryGetProperty("id", out var bodyId) || bodyId.ValueKind != JsonValueKind.String || bodyId.GetString() != id)
            {
                errors["$.id"] = [$"must equal the book id in the URL, '{id}'"];
            }

            if (!root.TryGetProperty("versions", out var vs) || vs.ValueKind != JsonValueKind.Array || vs.GetArrayLength() != 1)
            {
                errors["$.versions"] = ["must hold exactly one version: the one being published"];
            }
            else if (!vs[0].TryGetProperty("version", out var v) || v.ValueKind != JsonValueKind.String || v.GetString() != version)
            {
                errors["$.versions[0].version"] = [$"must equal the version in the URL, '{version}'"];
            }

            PriceBook? parent = null;
            if (root.TryGetProperty("parent", out var parentId) && parentId.ValueKind == JsonValueKind.String)
            {
                var parentVersions = await store.ListAsync(parentId.GetString(), cancellationToken).ConfigureAwait(false);
                if (parentVersions.Count == 0)
                {
                    errors["$.parent"] = [$"list book '{parentId.GetString()}' is not published; publish it first"];
                }
                else
                {
                    parent = PriceBookLoader.Validate(PriceBookStore.Combine(parentVersions)).Book;
                }
            }

            if (errors.Count > 0)
            {
                return ApiProblems.Invalid(errors);
            }

            var (book, bookErrors) = PriceBookLoader.Validate(body, parent);
            if (book is null)
            {
                return Invalid(bookErrors);
            }

            if (PriceBookValidation.UnratedMeters(book) is { Count: > 0 } unrated)
            {
                return Invalid(unrated);
            }

            if (await PriceBookRegistry.MeterChangesAsync(store, book, cancellationToken).ConfigureAwait(false) is { Count: > 0 } meterChanges)
            {
                return Invalid(meterChanges);
            }

            if (book.Account is null && ApiScopes.IsAccountBound(http.User))
            {
                return ApiProblems.AccountBound("publish a list price book, which prices every account");
            }

            if (book.Account is not null && !ApiScopes.MayRead(http.User, book.Account))
            {
                return ApiProblems.ForeignAccount(book.Account);
            }

            // Outside the store's per-book lock: two racing publishes can still leave a gap, never an overlap (the store refuses those).
            if (book.Account is null && PriceBookValidation.PublishGaps(book, (await store.ListAsync(id, cancellationToken).ConfigureAwait(false))
                    .Select(v => (v.Version, v.EffectiveFrom, v.EffectiveTo)).ToList()) is { Count: > 0 } gaps)
            {
                return Invalid(gaps);
            }

            var published = book.Versions[0];
            var candidate = new StoredPriceBookVersion(book.Id, published.Version, book.Currency.Code, book.Account, book.Parent, published.EffectiveFrom, published.EffectiveTo,
                published.Hash, PriceBookStore.HeaderHash(root), System.Text.Encoding.UTF8.GetString(body), default);
            var (result, detail, stored) = await store.PublishAsync(candidate, cancellationToken).ConfigureAwait(false);
            if (result == PublishResult.Created && options.PriceSource is { } source)
            {
                // This process rates with it from the next request (other processes: NOTIFY, or their poll).
                await source.RefreshAsync(cancellationToken).ConfigureAwait(false);
            }

            return result switch
            {
                PublishResult.Created => TypedResults.Created($"/v1/pricebooks/{Uri.EscapeDataString(id)}/versions/{Uri.EscapeDataString(version)}", Response(stored)),
                PublishResult.Unchanged => TypedResults.Ok(Response(stored)),
                _ => ApiProblems.Conflict(detail!),
            };
        }
    }

    private static ValidationProblem Invalid(IReadOnlyList<PriceBookError> errors) =>
        ApiProblems.Invalid(errors.GroupBy(e => e.Path, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal));

    private static PriceBookVersionResponse Response(StoredPriceBookVersion v)
    {
        using var doc = JsonDocument.Parse(v.Document, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        return new PriceBookVersionResponse(v.BookId, v.Version, v.Currency, v.Account, v.Parent, v.EffectiveFrom, v.EffectiveTo, v.VersionHash, v.PublishedAt, doc.RootElement.Clone());
    }

    private static ValidationProblem? RouteProblems(string id, string version)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!IsName(id))
        {
            errors["id"] = ["must be 1-128 characters of A-Z a-z 0-9 _ . -"];
        }

        if (!IsName(version))
        {
            errors["version"] = ["must be 1-128 characters of A-Z a-z 0-9 _ . -"];
        }

        return errors.Count > 0 ? ApiProblems.Invalid(errors) : null;
    }

    private static bool IsName(string s) => s.Length is > 0 and <= 128 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    // Reads the body but never more than max + 1 bytes: an oversized upload is refused without buffering it.
    private static async Task<byte[]?> ReadCapped(PipeReader reader, int max, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (read.Buffer.Length > max)
            {
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                return null;
            }

            if (read.IsCompleted)
            {
                var bytes = read.Buffer.ToArray();
                reader.AdvanceTo(read.Buffer.End);
                return bytes;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }
}
