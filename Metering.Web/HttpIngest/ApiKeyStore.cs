using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Metering.Web.HttpIngest;

/// <summary>
/// The API keys that may call <c>POST /v1/events</c>, loaded from <c>--api-keys-file</c>:
/// <c>[{ "id": "edge-eu", "key_sha256": "hex", "accounts": ["acct-1"] | null }]</c>. Only SHA-256 hashes are held;
/// a presented key is hashed and compared with every stored hash in constant time, so neither the match nor its
/// position leaks through timing. Immutable and thread-safe.
/// </summary>
public sealed class ApiKeyStore
{
    private readonly ApiKey[] _keys;

    /// <summary>Holds <paramref name="keys"/>; ids must be distinct.</summary>
    public ApiKeyStore(IEnumerable<ApiKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        _keys = [.. keys];
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var k in _keys)
        {
            if (!ids.Add(k.Id))
            {
                throw new ArgumentException($"API key id '{k.Id}' appears twice", nameof(keys));
            }

            if (k.KeySha256.Length != SHA256.HashSizeInBytes)
            {
                throw new ArgumentException($"API key '{k.Id}': key_sha256 must be {SHA256.HashSizeInBytes} bytes (64 hex digits)", nameof(keys));
            }
        }
    }

    /// <summary>Number of keys.</summary>
    public int Count => _keys.Length;

    /// <summary>The key whose hash matches <paramref name="presented"/>, or null.</summary>
    public ApiKey? Find(string presented)
    {
        ArgumentNullException.ThrowIfNull(presented);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(presented);
        SHA256.HashData(bytes, hash);
        ApiKey? match = null;
        foreach (var k in _keys)
        {
            // Every key is compared (no early exit): the time does not say which key matched.
            if (CryptographicOperations.FixedTimeEquals(hash, k.KeySha256))
            {
                match = k;
            }
        }

        return match;
    }

    /// <summary>The hex SHA-256 of a key, as <c>key_sha256</c> holds it (<c>printf %s KEY | sha256sum</c>).</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Parses the JSON of an API keys file; the message of the exception names the entry and field that is wrong.</summary>
    public static ApiKeyStore Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{source}: expected a JSON array of {{ \"id\", \"key_sha256\", \"accounts\" }}");
        }

        var keys = new List<ApiKey>();
        var i = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var where = $"{source}[{i++}]";
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"{where}: expected an object");
            }

            var id = e.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : throw new FormatException($"{where}: \"id\" (a string) is required");
            var hex = e.TryGetProperty("key_sha256", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString()! : throw new FormatException($"{where} ({id}): \"key_sha256\" (64 hex digits) is required");
            byte[] hash;
            try
            {
                hash = Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                throw new FormatException($"{where} ({id}): \"key_sha256\" is not hex");
            }

            if (hash.Length != SHA256.HashSizeInBytes)
            {
                throw new FormatException($"{where} ({id}): \"key_sha256\" must be 64 hex digits (the SHA-256 of the key), got {hex.Length}");
            }

            List<string>? accounts = null;
            if (e.TryGetProperty("accounts", out var a) && a.ValueKind != JsonValueKind.Null)
            {
                if (a.ValueKind != JsonValueKind.Array)
                {
                    throw new FormatException($"{where} ({id}): \"accounts\" must be an array of account ids or null (every account)");
                }

                accounts = [];
                foreach (var account in a.EnumerateArray())
                {
                    accounts.Add(account.ValueKind == JsonValueKind.String && account.GetString() is { Length: > 0 } s ? s : throw new FormatException($"{where} ({id}): every entry of \"accounts\" must be a non-empty string"));
                }

                if (accounts.Count == 0)
                {
                    throw new FormatException($"{where} ({id}): \"accounts\" is empty; use null for every account, or remove the key");
                }
            }

            keys.Add(new ApiKey(id, hash, accounts));
        }

        try
        {
            return new ApiKeyStore(keys);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"{source}: {e.Message}");
        }
    }
}
