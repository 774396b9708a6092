using System.Text.Json;
using Metering.Rating.Money;
using Metering.Web.Api;

namespace Metering.Cli.Arguments;

/// <summary>
/// The <c>--accounts FILE</c> of <c>metering rate</c> (docs/pricebooks.md, "<c>metering rate</c>"): accounts as the API
/// serves them (<c>GET /v1/accounts/{account}</c> objects), one JSON object per line, a JSON array of them, or a
/// <c>GET /v1/accounts</c> page (<c>{"accounts":[...]}</c>). <c>account</c> and <c>currency</c> are required; the other
/// fields of the API's object are accepted, <c>list_book</c> must be the rated list book's id when given, and an
/// account with its own billing periods (<c>anchor_day</c>, <c>time_zone</c>) is refused: the command rates on the list
/// book's periods, and rating such an account on them would be wrong, not approximate. Any other field, a repeated
/// account or an unknown currency is a usage error naming the line (or array index) and the field.
/// </summary>
public static class AccountCurrencyFile
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "account", "currency", "list_book", "contract_book", "start", "end", "anchor_day", "time_zone", "created_at", "updated_at",
    };

    /// <summary>The billing currency of every account in <paramref name="path"/>; <paramref name="listBook"/>: the rated list book's id (null: none).</summary>
    public static IReadOnlyDictionary<string, Currency> Read(string path, string? listBook)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--accounts {path}: {e.Message}");
        }

        var currencies = new Dictionary<string, Currency>(StringComparer.Ordinal);
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('['))
        {
            using var doc = ParseWhole(path, text);
            ReadArray(path, doc.RootElement, "$", listBook, currencies);
        }
        else if (trimmed.StartsWith('{') && IsPage(text, out var page))
        {
            using (page)
            {
                ReadArray(path, page!.RootElement.GetProperty("accounts"), "$.accounts", listBook, currencies);
            }
        }
        else
        {
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (string.IsNullOrWhiteSpace(lines[i]))
                {
                    continue;
                }

                var where = $"line {i + 1}";
                try
                {
                    using var doc = JsonDocument.Parse(lines[i]);
                    Add(path, where, doc.RootElement, listBook, currencies);
                }
                catch (JsonException e)
                {
                    throw new CliUsageException($"--accounts {path}: {where}: not valid JSON: {e.Message}");
                }
            }
        }

        return currencies;
    }

    // A page of GET /v1/accounts: one object spanning the file with an "accounts" array (an NDJSON file's first line is an account).
    private static bool IsPage(string text, out JsonDocument? page)
    {
        page = null;
        try
        {
            page = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return false;
        }

        if (page.RootElement.ValueKind == JsonValueKind.Object && page.RootElement.TryGetProperty("accounts", out var a) && a.ValueKind == JsonValueKind.Array)
        {
            return true;
        }

        page.Dispose();
        page = null;
        return false;
    }

    private static JsonDocument ParseWhole(string path, string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new CliUsageException($"--accounts {path}: not valid JSON: {e.Message}");
        }
    }

    private static void ReadArray(string path, JsonElement array, string at, string? listBook, Dictionary<string, Currency> currencies)
    {
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            Add(path, $"{at}[{i++}]", item, listBook, currencies);
        }
    }

    private static void Add(string path, string where, JsonElement account, string? listBook, Dictionary<string, Currency> currencies)
    {
        string Fail(string field, string problem) => throw new CliUsageException($"--accounts {path}: {where}: {field}: {problem}");

        if (account.ValueKind != JsonValueKind.Object)
        {
            Fail("account", "must be a JSON object with account and currency (as GET /v1/accounts/{account} serves it)");
        }

        foreach (var property in account.EnumerateObject())
        {
            if (!Known.Contains(property.Name))
            {
                Fail(property.Name, "unknown field; the fields are those of the API's account: " + string.Join(", ", Known));
            }
        }

        var id = account.TryGetProperty("account", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : Fail("account", "is required: a string");
        if (UsageRequest.IdentifierProblem(id) is { } idProblem)
        {
            Fail("account", idProblem);
        }

        var code = account.TryGetProperty("currency", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : Fail("currency", "is required: an ISO 4217 code such as EUR");
        if (!Currency.TryGet(code, out var currency))
        {
            Fail("currency", $"'{code}' is not a known ISO 4217 currency code (upper case, such as USD or EUR)");
        }

        if (account.TryGetProperty("list_book", out var book) && book.ValueKind != JsonValueKind.Null && book.GetString() is var bookId && bookId != listBook)
        {
            Fail("list_book", $"'{bookId}' is not the list book being rated ('{listBook ?? "none"}'): rate this account with its own list book, or remove the field");
        }

        foreach (var field in new[] { "anchor_day", "time_zone" })
        {
            if (account.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null)
            {
                Fail(field, "the account has billing periods of its own, and metering rate cuts periods by the list book's rule only: rate it through the ledger (its statements), or remove the field to rate it on the list book's periods");
            }
        }

        if (!currencies.TryAdd(id, currency!))
        {
            Fail("account", $"'{id}' is given twice");
        }
    }
}
