using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;

namespace Metering.Cli.Commands;

/// <summary><c>metering pricebook publish</c>: publishes price-book files into the registry the engines rate from.</summary>
public sealed class PriceBookPublishCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["pricebook", "publish"];

    public string Summary => "publish a price book (and contract books) into the registry the engines rate from, idempotently";

    public string Usage => "usage: metering pricebook publish FILE [--contracts FILE[,FILE...]] [ledger options]\n\n" +
        "  FILE                       a list price book, or a contract book whose list book is already published\n" +
        "  --contracts FILES          contract books of that list book (comma-separated), published after it\n" +
        LedgerArguments.Usage +
        "\nEvery version of a file is published in one transaction: a version already published with the same hash is\n" +
        "unchanged; a new version after the book's open-ended one supersedes it from its effective instant; the same\n" +
        "version with another hash, an overlap, or a version taking effect in a closed or already-rated range is refused\n" +
        "and nothing of the file is published. Running engines and serve pick it up at once (LISTEN/NOTIFY; docs/pricebooks.md).\n" +
        "exit codes: 0 published (or unchanged), 1 refused, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var contracts = (args.String("contracts") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        args.RejectUnknown(LedgerArguments.Options);
        if (args.Positional.Count != 1)
        {
            throw new CliUsageException("give exactly one price-book FILE");
        }

        var path = args.Positional[0];
        var bytes = Read(path);
        var contractFiles = contracts.Select(c => (Path: c, Bytes: Read(c))).ToList();
        var parentId = ParentOf(bytes, path);
        if (parentId is not null && contractFiles.Count > 0)
        {
            throw new CliUsageException($"{path} is a contract book: --contracts goes with a list book");
        }

        // Checked before the database is opened: a broken file is a usage error that starts nothing.
        var list = parentId is null ? Load(bytes, path, null) : null;
        var contractBooks = list is null ? [] : contractFiles.Select(c => (c.Path, c.Bytes, Book: Load(c.Bytes, c.Path, list))).ToList();
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        try
        {
            if (list is null)
            {
                // A contract alone: validated against its list book as the registry holds it.
                var parent = (await PriceBookRegistry.LoadAsync(db, parentId, cancellationToken).ConfigureAwait(false)).Catalog!.List!;
                await PublishAsync(db, Load(bytes, path, parent), bytes, path, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            await PublishAsync(db, list, bytes, path, cancellationToken).ConfigureAwait(false);
            foreach (var (contractPath, contractBytes, book) in contractBooks)
            {
                await PublishAsync(db, book, contractBytes, contractPath, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }
        catch (PriceBookRegistryException e)
        {
            Console.Error.WriteLine("pricebook publish: refused: " + e.Message);
            return 1;
        }
    }

    private static async Task PublishAsync(Npgsql.NpgsqlDataSource db, PriceBook book, byte[] bytes, string path, CancellationToken cancellationToken)
    {
        foreach (var o in await PriceBookRegistry.PublishFileAsync(db, book, bytes, path, cancellationToken).ConfigureAwait(false))
        {
            var what = o.Result == PublishResult.Created ? "published" : "unchanged";
            var supersedes = o.Superseded is null ? "" : $"; supersedes version {o.Superseded} from {o.Stored.EffectiveFrom:yyyy-MM-dd'T'HH:mm:ss'Z'}";
            Console.Out.WriteLine($"{what} {o.Stored.BookId} version {o.Stored.Version} {o.Stored.VersionHash}{supersedes}");
        }
    }

    private static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"cannot read a price book: {e.Message}");
        }
    }

    private static PriceBook Load(byte[] bytes, string path, PriceBook? parent)
    {
        try
        {
            return PriceBookLoader.Load(bytes, path, parent);
        }
        catch (PriceBookException e)
        {
            throw new CliUsageException(e.Message, showUsage: false);
        }
    }

    /// <summary>The parent named by a contract book; null for a list book (or a file the loader will reject).</summary>
    private static string? ParentOf(byte[] bytes, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("account", out _)
                && doc.RootElement.TryGetProperty("parent", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        }
        catch (JsonException e)
        {
            throw new CliUsageException($"{path}: not valid JSON: {e.Message}", showUsage: false);
        }
    }
}
