using System.Globalization;

namespace Metering.Ingest.Cli;

/// <summary>
/// The parsed tail of a command line: <c>--name value</c> options, <c>--flag</c> switches and positional words.
/// Small on purpose: every command documents its own options in <see cref="ICliCommand.Usage"/>.
/// </summary>
public sealed class CliArguments
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);

    /// <summary>Positional words, in order.</summary>
    public IReadOnlyList<string> Positional { get; }

    private CliArguments(List<string> positional) => Positional = positional;

    /// <summary>Parses <paramref name="args"/>; an option followed by another option (or nothing) is a switch.</summary>
    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        var positional = new List<string>();
        var parsed = new CliArguments(positional);
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var eq = a.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    parsed._options[a[2..eq]] = a[(eq + 1)..];
                }
                else if (i + 1 < args.Count && !(args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    parsed._options[a[2..]] = args[++i];
                }
                else
                {
                    parsed._options[a[2..]] = null;
                }
            }
            else
            {
                positional.Add(a);
            }
        }

        return parsed;
    }

    /// <summary>True when the switch or option was given.</summary>
    public bool Has(string name)
    {
        _consumed.Add(name);
        return _options.ContainsKey(name);
    }

    /// <summary>The option's value, or <paramref name="fallback"/> when absent.</summary>
    public string? String(string name, string? fallback = null)
    {
        _consumed.Add(name);
        return _options.TryGetValue(name, out var v) ? v ?? throw new CliUsageException($"--{name} needs a value") : fallback;
    }

    /// <summary>The option's value; a missing option is a usage error naming it.</summary>
    public string Required(string name) =>
        String(name) ?? throw new CliUsageException($"--{name} is required");

    /// <summary>An integer option (underscores allowed as digit separators, e.g. 10_000_000).</summary>
    public long Int64(string name, long fallback, long min = long.MinValue, long max = long.MaxValue)
    {
        var s = String(name);
        if (s is null)
        {
            return fallback;
        }

        if (!long.TryParse(s.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            throw new CliUsageException($"--{name} expects a whole number, got '{s}'");
        }

        if (v < min || v > max)
        {
            throw new CliUsageException($"--{name} must be between {min} and {max}, got {v}");
        }

        return v;
    }

    /// <summary>A decimal option parsed with the invariant culture.</summary>
    public decimal Decimal(string name, decimal fallback)
    {
        var s = String(name);
        if (s is null)
        {
            return fallback;
        }

        return decimal.TryParse(s, NumberStyles.Number, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new CliUsageException($"--{name} expects a decimal number, got '{s}'");
    }

    /// <summary>A duration such as 90s, 1m, 24h, 7d or a TimeSpan (00:01:00).</summary>
    public TimeSpan Duration(string name, TimeSpan fallback)
    {
        var s = String(name);
        return s is null ? fallback : ParseDuration(name, s);
    }

    /// <summary>Parses 500ms, 90s, 1m, 24h, 7d or a TimeSpan literal.</summary>
    public static TimeSpan ParseDuration(string name, string s)
    {
        static bool Num(string t, out long n) => long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out n);
        if (s.EndsWith("ms", StringComparison.Ordinal) && Num(s[..^2], out var ms))
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        if (s.Length > 1 && Num(s[..^1], out var n))
        {
            switch (s[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
            }
        }

        return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var ts)
            ? ts
            : throw new CliUsageException($"--{name} expects a duration such as 90s, 1m, 24h or 7d, got '{s}'");
    }

    /// <summary>Throws a usage error for any option no command asked for (catches typos such as --seeed).</summary>
    public void RejectUnknown()
    {
        foreach (var key in _options.Keys)
        {
            if (!_consumed.Contains(key))
            {
                throw new CliUsageException($"unknown option --{key}");
            }
        }
    }
}

/// <summary>A command-line mistake: printed with the command's usage, exit code 2.</summary>
public sealed class CliUsageException(string message) : Exception(message);
