using System.Globalization;
using System.Text;

namespace Metering.Analytics;

/// <summary>
/// <see cref="IUsageStore"/> over ClickHouse (either transport). Every value from the caller (account, SKU, times,
/// dimension keys) is a bound <c>{name:Type}</c> parameter, never SQL text; the statement's shape depends only on the
/// granularity, whether a SKU is given and how many group-by keys there are. Reads with FINAL, so replayed exports
/// never count twice; sums come back as decimal strings and are parsed exactly. Buckets are UTC; a window is counted
/// in the bucket holding its start. A missing dimension key groups as the empty string. Thread-safe.
/// </summary>
public sealed class ClickHouseUsageStore : IUsageStore
{
    /// <summary>Most dimension keys one query may group by (each becomes a GROUP BY column).</summary>
    public const int MaxGroupByKeys = 8;

    /// <summary>Longest time range one query may cover, by granularity, to bound the answer's size.</summary>
    public static TimeSpan MaxRange(UsageGranularity granularity) => granularity switch
    {
        UsageGranularity.Minute => TimeSpan.FromDays(7),
        UsageGranularity.Hour => TimeSpan.FromDays(400),
        _ => TimeSpan.FromDays(3660),
    };

    private readonly IAnalyticsTransport _transport;
    private readonly AnalyticsSchema _schema;

    /// <summary>Creates the store.</summary>
    public ClickHouseUsageStore(IAnalyticsTransport transport, AnalyticsSchema schema)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(schema);
        _transport = transport;
        _schema = schema;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<UsagePoint>> QueryUsageAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Validate(query);
        var (sql, parameters) = Build(query);
        var rows = await _transport.QueryAsync(sql, parameters, cancellationToken).ConfigureAwait(false);
        var points = new List<UsagePoint>(rows.Count);
        var keys = query.GroupBy;
        foreach (var row in rows)
        {
            // bucket, sku, currency, quantity, record_count, amount, then one column per group-by key
            var dims = new Dictionary<string, string>(keys.Count, StringComparer.Ordinal);
            for (var k = 0; k < keys.Count; k++)
            {
                dims[keys[k]] = row[6 + k] ?? "";
            }

            points.Add(new UsagePoint(
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(Cell(row, 0), NumberStyles.Integer, CultureInfo.InvariantCulture)),
                Cell(row, 1),
                dims,
                decimal.Parse(Cell(row, 3), NumberStyles.Number, CultureInfo.InvariantCulture),
                long.Parse(Cell(row, 4), NumberStyles.Integer, CultureInfo.InvariantCulture),
                decimal.Parse(Cell(row, 5), NumberStyles.Number, CultureInfo.InvariantCulture),
                Cell(row, 2)));
        }

        return points;
    }

    /// <inheritdoc />
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            var rows = await _transport.QueryAsync($"SELECT count() FROM system.tables WHERE database = {{db:String}} AND name = 'usage_windows'", [new("db", _schema.Database)], cancellationToken).ConfigureAwait(false);
            return rows.Count == 1 && rows[0][0] == "1";
        }
        catch (ClickHouseException)
        {
            return false;
        }
    }

    private static string Cell(string?[] row, int i) =>
        row.Length > i && row[i] is { } v ? v : throw new ClickHouseException($"usage query answer: column {i} missing or NULL");

    private static void Validate(UsageQuery query)
    {
        ArgumentException.ThrowIfNullOrEmpty(query.Account, nameof(query));
        ArgumentNullException.ThrowIfNull(query.GroupBy);
        if (query.To <= query.From)
        {
            throw new ArgumentException($"usage query: 'to' ({query.To:O}) must be after 'from' ({query.From:O})", nameof(query));
        }

        if (query.To - query.From > MaxRange(query.Granularity))
        {
            throw new ArgumentException($"usage query: a {query.Granularity} query may span at most {MaxRange(query.Granularity).TotalDays} days; narrow the range or use a coarser granularity", nameof(query));
        }

        if (query.GroupBy.Count > MaxGroupByKeys)
        {
            throw new ArgumentException($"usage query: at most {MaxGroupByKeys} group_by keys (got {query.GroupBy.Count})", nameof(query));
        }

        if (query.GroupBy.Any(string.IsNullOrEmpty) || query.GroupBy.Distinct(StringComparer.Ordinal).Count() != query.GroupBy.Count)
        {
            throw new ArgumentException("usage query: group_by keys must be non-empty and distinct", nameof(query));
        }
    }

    internal (string Sql, List<KeyValuePair<string, string>> Parameters) Build(UsageQuery query)
    {
        var bucket = query.Granularity switch
        {
            UsageGranularity.Minute => "toStartOfMinute(window_start)",
            UsageGranularity.Hour => "toStartOfHour(window_start)",
            UsageGranularity.Day => "toStartOfDay(window_start)",
            _ => throw new ArgumentOutOfRangeException(nameof(query), query.Granularity, "unknown granularity"),
        };
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("account", query.Account),
            new("from_ms", query.From.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
            new("to_ms", query.To.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
        };
        var dimColumns = new StringBuilder();
        var dimNames = new StringBuilder();
        for (var k = 0; k < query.GroupBy.Count; k++)
        {
            parameters.Add(new("g" + k.ToString(CultureInfo.InvariantCulture), query.GroupBy[k]));
            dimColumns.Append(CultureInfo.InvariantCulture, $", dims[{{g{k}:String}}] AS d{k}");
            dimNames.Append(CultureInfo.InvariantCulture, $", d{k}");
        }

        var skuFilter = "";
        if (query.Sku is not null)
        {
            parameters.Add(new("sku", query.Sku));
            skuFilter = " AND sku = {sku:String}";
        }

        var sql = $$"""
            SELECT toUnixTimestamp({{bucket}}) AS bucket, sku, currency,
                   toString(sum(quantity)) AS quantity, toString(sum(record_count)) AS record_count, toString(sum(amount)) AS amount{{dimColumns}}
            FROM {{_schema.UsageWindows}} FINAL
            WHERE account = {account:String}{{skuFilter}}
              AND window_start >= fromUnixTimestamp64Milli({from_ms:Int64}, 'UTC')
              AND window_start < fromUnixTimestamp64Milli({to_ms:Int64}, 'UTC')
            GROUP BY bucket, sku, currency{{dimNames}}
            ORDER BY bucket, sku{{dimNames}}, currency
            """;
        return (sql, parameters);
    }
}
