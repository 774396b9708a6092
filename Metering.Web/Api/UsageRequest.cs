using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Metering.Analytics;

namespace Metering.Web.Api;

/// <summary>
/// Validation of <c>GET /v1/usage</c> parameters and the paging cursor. Limits (docs/api.md): the range [from, to)
/// must be aligned to the granularity and at most 7 days for minute, 93 days for hour, 1096 days (3 years) for day
/// buckets; at most 8 group_by keys; <c>limit</c> 1..10000 points per page (default 1000).
/// </summary>
internal static class UsageRequest
{
    /// <summary>Longest UTF-8 identifier (account, SKU), as for usage records.</summary>
    public const int MaxIdentifierBytes = 128;

    /// <summary>Most group_by keys in one query.</summary>
    public const int MaxGroupBy = 8;

    /// <summary>Default points per page.</summary>
    public const int DefaultLimit = 1000;

    /// <summary>Most points per page.</summary>
    public const int MaxLimit = 10_000;

    /// <summary>Longest range per granularity.</summary>
    public static TimeSpan MaxRange(UsageGranularity g) => g switch
    {
        UsageGranularity.Minute => TimeSpan.FromDays(7),
        UsageGranularity.Hour => TimeSpan.FromDays(93),
        _ => TimeSpan.FromDays(1096),
    };

    /// <summary>Bucket length per granularity.</summary>
    public static TimeSpan Bucket(UsageGranularity g) => g switch
    {
        UsageGranularity.Minute => TimeSpan.FromMinutes(1),
        UsageGranularity.Hour => TimeSpan.FromHours(1),
        _ => TimeSpan.FromDays(1),
    };

    /// <summary>Lower-case wire name of a granularity.</summary>
    public static string Name(UsageGranularity g) => g switch
    {
        UsageGranularity.Minute => "minute",
        UsageGranularity.Hour => "hour",
        _ => "day",
    };

    /// <summary>Parses and checks every parameter; returns the query, page offset and size, or every problem found.</summary>
    public static (UsageQuery? Query, int Offset, int Limit, Dictionary<string, string[]> Errors) Parse(
        string? account, string? sku, string? from, string? to, string? granularity, string? groupBy, string? limit, string? cursor)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Fail(string p, string reason) => errors[p] = [reason];

        if (IdentifierProblem(account) is { } accountProblem)
        {
            Fail("account", accountProblem);
        }

        if (sku is not null && IdentifierProblem(sku) is { } skuProblem)
        {
            Fail("sku", skuProblem);
        }

        var g = UsageGranularity.Hour;
        switch (granularity)
        {
            case null or "hour": break;
            case "minute": g = UsageGranularity.Minute; break;
            case "day": g = UsageGranularity.Day; break;
            default: Fail("granularity", $"must be minute, hour or day, got '{granularity}'"); break;
        }

        var fromAt = Instant("from", from, Fail);
        var toAt = Instant("to", to, Fail);
        if (fromAt is { } f && toAt is { } t && !errors.ContainsKey("granularity"))
        {
            var bucket = Bucket(g);
            if (f >= t)
            {
                Fail("to", $"must be after from ({Format(f)}); the range is half-open [from, to)");
            }
            else if (t - f > MaxRange(g))
            {
                Fail("to", $"range {(t - f).TotalDays:0.##} days is too large for granularity {Name(g)} (at most {MaxRange(g).TotalDays:0} days); use a coarser granularity or a shorter range");
            }

            if (f.UtcTicks % bucket.Ticks != 0)
            {
                Fail("from", $"must be on a {Name(g)} boundary (UTC), got {Format(f)}");
            }

            if (t.UtcTicks % bucket.Ticks != 0 && !errors.ContainsKey("to"))
            {
                Fail("to", $"must be on a {Name(g)} boundary (UTC), got {Format(t)}");
            }
        }

        var keys = new List<string>();
        if (!string.IsNullOrEmpty(groupBy))
        {
            foreach (var key in groupBy.Split(','))
            {
                if (!IsDimensionKey(key))
                {
                    Fail("group_by", $"'{key}' is not a dimension key (1-64 characters of A-Z a-z 0-9 _ . -)");
                    break;
                }

                if (keys.Contains(key, StringComparer.Ordinal))
                {
                    Fail("group_by", $"'{key}' is listed twice");
                    break;
                }

                keys.Add(key);
            }

            if (keys.Count > MaxGroupBy && !errors.ContainsKey("group_by"))
            {
                Fail("group_by", $"at most {MaxGroupBy} keys, got {keys.Count}");
            }
        }

        var pageSize = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize < 1 || pageSize > MaxLimit))
        {
            Fail("limit", $"must be a whole number from 1 to {MaxLimit}, got '{limit}'");
        }

        if (errors.Count > 0)
        {
            return (null, 0, 0, errors);
        }

        var query = new UsageQuery(account!, sku, fromAt!.Value, toAt!.Value, g, keys);
        var offset = 0;
        if (cursor is not null && !TryReadCursor(cursor, query, out offset))
        {
            Fail("cursor", "not a cursor of this query (pass next_cursor back unchanged, with the same other parameters)");
            return (null, 0, 0, errors);
        }

        return (query, offset, pageSize, errors);
    }

    /// <summary>Null when <paramref name="value"/> is a valid account or SKU, else why not.</summary>
    public static string? IdentifierProblem(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "is required and must not be empty";
        }

        if (Encoding.UTF8.GetByteCount(value) > MaxIdentifierBytes)
        {
            return $"must be at most {MaxIdentifierBytes} bytes (UTF-8)";
        }

        // The admission rule of records (one implementation): every account or SKU that can be ingested can be
        // asked for, and nothing the engine would refuse is looked up.
        return Metering.Aggregates.Records.IdentifierRules.Check(Encoding.UTF8.GetBytes(value)) is { } why ? "must not be a value no record can carry: it " + why : null;
    }

    private static bool IsDimensionKey(string key)
    {
        if (key.Length is 0 or > 64)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static DateTimeOffset? Instant(string name, string? text, Action<string, string> fail)
    {
        if (string.IsNullOrEmpty(text))
        {
            fail(name, "is required: an RFC 3339 instant such as 2026-11-01T00:00:00Z");
            return null;
        }

        // An explicit offset (Z or +hh:mm) is required: a local time would mean different instants on different servers.
        var t = text.IndexOf('T', StringComparison.Ordinal);
        var hasOffset = t > 0 && (text.EndsWith('Z') || text.EndsWith('z') || text.IndexOf('+', t) > 0 || text.IndexOf('-', t) > 0);
        if (!hasOffset || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value))
        {
            fail(name, $"must be an RFC 3339 instant with an offset, such as 2026-11-01T00:00:00Z, got '{text}'");
            return null;
        }

        return value.ToUniversalTime();
    }

    private static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The cursor for the page starting at <paramref name="offset"/> of <paramref name="query"/>'s answer.</summary>
    public static string Cursor(UsageQuery query, int offset) =>
        Base64Url($"{offset.ToString(CultureInfo.InvariantCulture)}.{Fingerprint(query)}");

    private static bool TryReadCursor(string cursor, UsageQuery query, out int offset)
    {
        offset = 0;
        if (cursor.Length > 64)
        {
            return false;
        }

        string text;
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
        }
        catch (FormatException)
        {
            return false;
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        return dot > 0
            && int.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out offset)
            && string.Equals(text[(dot + 1)..], Fingerprint(query), StringComparison.Ordinal);
    }

    // Binds a cursor to its query, so a cursor replayed with other parameters is refused instead of skipping rows.
    private static string Fingerprint(UsageQuery q)
    {
        var canonical = string.Join('\n', q.Account, q.Sku ?? "", q.From.UtcTicks, q.To.UtcTicks, (int)q.Granularity, string.Join(',', q.GroupBy));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)).AsSpan(0, 12));
    }

    private static string Base64Url(string text) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
