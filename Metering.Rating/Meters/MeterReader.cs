using System.Globalization;
using System.Text.Json;
using Metering.Rating.PriceBooks;

namespace Metering.Rating.Meters;

/// <summary>
/// Reads a price's <c>meter</c> object (docs/meters.md, "The meter object") and reports every problem at its JSON path,
/// for the price-book loader. A field another aggregation reads is refused on this one (a <c>field</c> on a max meter
/// would be silently ignored), as the loader refuses fields a pricing model does not read.
/// </summary>
internal sealed class MeterReader(List<PriceBookError> errors)
{
    private static readonly string[] AllFields = ["aggregation", "field", "max_distinct", "unit_of_time", "max_readings", "percentile", "bucket", "rate_per"];
    private static readonly string Aggregations = "sum, count, max, min, latest, unique_count, time_weighted, percentile";

    /// <summary>The meter, or null when it has a problem (each reported).</summary>
    public MeterDefinition? Read(JsonElement meter, string path)
    {
        if (meter.ValueKind != JsonValueKind.Object)
        {
            Error(path, $"must be an object such as {{\"aggregation\": \"max\"}} (omit it for a sum of the records' quantities)");
            return null;
        }

        var before = errors.Count;
        foreach (var p in meter.EnumerateObject())
        {
            if (Array.IndexOf(AllFields, p.Name) < 0)
            {
                Error($"{path}.{p.Name}", $"unknown field (a meter has: {string.Join(", ", AllFields)})");
            }
        }

        if (!meter.TryGetProperty("aggregation", out var a) || a.ValueKind != JsonValueKind.String)
        {
            Error($"{path}.aggregation", $"is required: one of {Aggregations}");
            return null;
        }

        MeterAggregation? parsed = a.GetString() switch
        {
            "sum" => MeterAggregation.Sum,
            "count" => MeterAggregation.Count,
            "max" => MeterAggregation.Max,
            "min" => MeterAggregation.Min,
            "latest" => MeterAggregation.Latest,
            "unique_count" => MeterAggregation.UniqueCount,
            "time_weighted" => MeterAggregation.TimeWeighted,
            "percentile" => MeterAggregation.Percentile,
            _ => null,
        };
        if (parsed is not { } aggregation)
        {
            Error($"{path}.aggregation", $"'{a.GetString()}' is not one of {Aggregations}{Hint(a.GetString())}");
            return null;
        }

        string[] own = aggregation switch
        {
            MeterAggregation.UniqueCount => ["field", "max_distinct"],
            MeterAggregation.TimeWeighted => ["unit_of_time", "max_readings"],
            MeterAggregation.Percentile => ["percentile", "bucket", "rate_per"],
            _ => [],
        };
        foreach (var p in meter.EnumerateObject())
        {
            if (p.Name != "aggregation" && Array.IndexOf(AllFields, p.Name) >= 0 && Array.IndexOf(own, p.Name) < 0)
            {
                Error($"{path}.{p.Name}", $"does not belong to a {MeterDefinition.NameOf(aggregation)} meter, which would ignore it (it has: {string.Join(", ", own.Prepend("aggregation"))})");
            }
        }

        var definition = aggregation switch
        {
            MeterAggregation.UniqueCount => ReadUniqueCount(meter, path),
            MeterAggregation.TimeWeighted => ReadTimeWeighted(meter, path),
            MeterAggregation.Percentile => ReadPercentile(meter, path),
            _ => new MeterDefinition { Aggregation = aggregation },
        };
        return errors.Count > before ? null : definition;
    }

    private static string Hint(string? name) => name switch
    {
        "avg" or "average" => " (an average is not billable exactly; bill time_weighted or sum)",
        "unique" or "count_distinct" or "distinct_count" => " (did you mean unique_count?)",
        "weighted_sum" => " (Lago's weighted_sum of levels is time_weighted)",
        "p95" or "percentile95" => " (use percentile with \"percentile\": 95)",
        _ => "",
    };

    private MeterDefinition ReadUniqueCount(JsonElement meter, string path)
    {
        string? field = null, key = null;
        if (!meter.TryGetProperty("field", out var f) || f.ValueKind != JsonValueKind.String)
        {
            Error($"{path}.field", "is required for unique_count: the dimension whose distinct values are counted, as \"dimensions.KEY\" (e.g. \"dimensions.user_id\")");
        }
        else
        {
            field = f.GetString()!;
            const string prefix = "dimensions.";
            key = field.StartsWith(prefix, StringComparison.Ordinal) ? field[prefix.Length..] : null;
            if (key is null || key.Length is 0 or > 64 || key.Contains('=', StringComparison.Ordinal) || key.Any(char.IsControl))
            {
                Error($"{path}.field", $"'{field}' is not \"dimensions.KEY\" with a dimension key of 1-64 characters without '=' or control characters: a unique_count counts the values of one dimension of the records");
            }
        }

        var max = WholeNumber(meter, "max_distinct", path, MeterDefinition.DefaultMaxDistinct, MeterDefinition.MaxMaxDistinct,
            "distinct values per (account, SKU, period) are kept as 16-byte fingerprints in the ledger");
        return new MeterDefinition { Aggregation = MeterAggregation.UniqueCount, Field = field, DimensionKey = key, MaxDistinct = max };
    }

    private MeterDefinition ReadTimeWeighted(JsonElement meter, string path)
    {
        var unit = TimeSpan.FromHours(1);
        if (meter.TryGetProperty("unit_of_time", out var u) && (u.ValueKind != JsonValueKind.String || !MeterDurations.TryParseUnit(u.GetString(), out unit)))
        {
            Error($"{path}.unit_of_time", $"{Shown(u)} is not one of second, minute, hour, day (the time unit of the integral: hour gives GB-hours)");
        }

        var max = WholeNumber(meter, "max_readings", path, MeterDefinition.DefaultMaxReadings, MeterDefinition.MaxMaxReadings,
            "every reading of a period is kept (16 bytes each) so that a late one lands exactly");
        return new MeterDefinition { Aggregation = MeterAggregation.TimeWeighted, UnitOfTime = unit, MaxReadings = max };
    }

    private MeterDefinition ReadPercentile(JsonElement meter, string path)
    {
        decimal p = 0;
        if (!meter.TryGetProperty("percentile", out var pe))
        {
            Error($"{path}.percentile", "is required for a percentile meter: p above 0 and below 100, e.g. 95");
        }
        else if (!TryDecimal(pe, out p) || p <= 0 || p >= 100)
        {
            Error($"{path}.percentile", $"{Shown(pe)} is not a number above 0 and below 100 (95 bills the 95th percentile: the top 5 % of buckets are discarded)");
        }

        var bucket = TimeSpan.FromMinutes(5);
        if (meter.TryGetProperty("bucket", out var b))
        {
            if (b.ValueKind != JsonValueKind.String || !MeterDurations.TryParse(b.GetString(), out bucket))
            {
                Error($"{path}.bucket", $"{Shown(b)} is not a duration such as \"5m\", \"30s\" or \"1h\"");
            }
            else if (bucket > TimeSpan.FromHours(1) || TimeSpan.TicksPerHour % bucket.Ticks != 0)
            {
                // Buckets that divide an hour divide a day and start on every whole hour, where versions take effect and
                // where usage windows (which divide an hour too) begin: no bucket straddles a price change or a period
                // start on a whole hour.
                Error($"{path}.bucket", $"{b.GetString()} does not divide an hour: a bucket is whole seconds from 1s to 1h that divide an hour (1s, 30s, 1m, 5m, 15m, 1h), so buckets start on every whole hour");
            }
        }

        TimeSpan? ratePer = null;
        if (meter.TryGetProperty("rate_per", out var r))
        {
            if (r.ValueKind != JsonValueKind.String || !MeterDurations.TryParse(r.GetString(), out var per))
            {
                Error($"{path}.rate_per", $"{Shown(r)} is not a duration such as \"1s\"");
            }
            else if (per > bucket)
            {
                Error($"{path}.rate_per", $"{r.GetString()} is longer than the bucket ({MeterDurations.Format(bucket)}): a rate per {r.GetString()} of a {MeterDurations.Format(bucket)} bucket would scale it up; omit rate_per to bill the bucket's sum");
            }
            else
            {
                ratePer = per;
            }
        }

        return new MeterDefinition { Aggregation = MeterAggregation.Percentile, Percentile = p, Bucket = bucket, RatePer = ratePer };
    }

    private int WholeNumber(JsonElement meter, string name, string path, int fallback, int max, string why)
    {
        if (!meter.TryGetProperty(name, out var v))
        {
            return fallback;
        }

        if (!TryDecimal(v, out var d) || d != decimal.Truncate(d) || d < 1 || d > max)
        {
            Error($"{path}.{name}", $"{Shown(v)} is not a whole number from 1 to {max.ToString("N0", CultureInfo.InvariantCulture)} ({why})");
            return fallback;
        }

        return (int)d;
    }

    private static bool TryDecimal(JsonElement e, out decimal value)
    {
        value = 0;
        var text = e.ValueKind switch { JsonValueKind.Number => e.GetRawText(), JsonValueKind.String => e.GetString(), _ => null };
        return text is not null && decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value);
    }

    private static string Shown(JsonElement e) => e.ValueKind == JsonValueKind.String ? $"'{e.GetString()}'" : e.GetRawText();

    private void Error(string path, string message) => errors.Add(new PriceBookError(path, message));
}
