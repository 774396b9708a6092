using System.Globalization;
using Metering.Ledger.PeriodClose;

namespace Metering.Cli.Arguments;

/// <summary>
/// The parsed tail of a command line: <c>--name value</c> options, <c>--flag</c> switches and positional words.
/// Small on purpose: every command documents its own options in its <c>Usage</c> text.
/// </summary>
/// <remarks>
/// <para>
/// Environment fallback (containers are configured by environment variables): every option <c>--foo-bar</c> that is
/// not on the command line is read from the variable <c>METERING_FOO_BAR</c> (prefix <see cref="EnvironmentPrefix"/>,
/// the name upper-cased, dashes as underscores). The command line always wins. A variable that is unset or empty
/// counts as absent, so an optional value left blank in a deployment keeps the option's default. A switch such as
/// <c>--period-lines</c> is on when its variable holds anything but <c>0</c> or <c>false</c>.
/// </para>
/// <para>
/// <see cref="RejectUnknown()"/> looks at the command line only: a container's environment is shared by every command
/// it may run (<c>METERING_BOOTSTRAP_SERVERS</c> means nothing to <c>metering migrate</c>), so a variable no command
/// reads is ignored, never an error. Values from the environment are checked exactly like command-line values, and
/// their errors name the variable.
/// </para>
/// </remarks>
public sealed class CliArguments
{
    /// <summary>The prefix of the environment variables options fall back to.</summary>
    public const string EnvironmentPrefix = "METERING_";

    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);
    private readonly Func<string, string?> _environment;

    /// <summary>Positional words, in order.</summary>
    public IReadOnlyList<string> Positional { get; }

    private CliArguments(List<string> positional, Func<string, string?> environment)
    {
        Positional = positional;
        _environment = environment;
    }

    /// <summary>The environment variable option <c>--<paramref name="name"/></c> falls back to, e.g. METERING_FLUSH_INTERVAL.</summary>
    public static string EnvironmentVariableFor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return EnvironmentPrefix + name.ToUpperInvariant().Replace('-', '_');
    }

    /// <summary>
    /// Parses <paramref name="args"/>; an option followed by another option (or nothing) is a switch. Options not on
    /// the command line fall back to <paramref name="environment"/> (default: the process environment), see remarks.
    /// </summary>
    public static CliArguments Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var positional = new List<string>();
        var parsed = new CliArguments(positional, environment ?? Environment.GetEnvironmentVariable);
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

    /// <summary>
    /// True when the switch or option was given on the command line, or its environment variable is set to anything
    /// but empty, <c>0</c> or <c>false</c>.
    /// </summary>
    public bool Has(string name)
    {
        _consumed.Add(name);
        if (_options.ContainsKey(name))
        {
            return true;
        }

        var env = FromEnvironment(name);
        return env is not null && env != "0" && !env.Equals("false", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The option's value from the command line, else from its environment variable, else <paramref name="fallback"/>.</summary>
    public string? String(string name, string? fallback = null)
    {
        _consumed.Add(name);
        if (_options.TryGetValue(name, out var v))
        {
            return v ?? throw new CliUsageException($"--{name} needs a value");
        }

        return FromEnvironment(name) ?? fallback;
    }

    /// <summary>Where option <paramref name="name"/>'s value came from, for messages: "--name" or "--name (from METERING_NAME)".</summary>
    private string Source(string name) =>
        _options.ContainsKey(name) ? $"--{name}" : $"--{name} (from {EnvironmentVariableFor(name)})";

    private string? FromEnvironment(string name)
    {
        var value = _environment(EnvironmentVariableFor(name));
        return string.IsNullOrEmpty(value) ? null : value;
    }

    /// <summary>The option's value; a missing option is a usage error naming it and its environment variable.</summary>
    public string Required(string name) =>
        String(name) ?? throw new CliUsageException($"--{name} is required (or set {EnvironmentVariableFor(name)})");

    /// <summary>A required billing-period option: YYYY-MM-DD (a period start) or YYYY-MM (the 1st), as every route takes it.</summary>
    public DateTimeOffset RequiredPeriodStart(string name)
    {
        var value = Required(name);
        try
        {
            return PeriodCloser.ParsePeriodStart(value);
        }
        catch (FormatException e)
        {
            throw new CliUsageException($"--{name}: {e.Message}");
        }
    }

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
            throw new CliUsageException($"{Source(name)} expects a whole number, got '{s}'");
        }

        if (v < min || v > max)
        {
            throw new CliUsageException($"{Source(name)} must be between {min} and {max}, got {v}");
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
            : throw new CliUsageException($"{Source(name)} expects a decimal number, got '{s}'");
    }

    /// <summary>A duration such as 90s, 1m, 24h, 7d or a TimeSpan (00:01:00).</summary>
    public TimeSpan Duration(string name, TimeSpan fallback)
    {
        var s = String(name);
        return s is null ? fallback : ParseDuration(_options.ContainsKey(name) ? name : $"{name} (from {EnvironmentVariableFor(name)})", s);
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

    /// <summary>
    /// Throws a usage error for any command-line option no command asked for (catches typos such as --seeed).
    /// Environment variables are never checked here: see the class remarks.
    /// </summary>
    public void RejectUnknown() => RejectUnknown([]);

    /// <summary>
    /// As <see cref="RejectUnknown()"/>, before the side effects that read the rest: options in
    /// <paramref name="readLater"/> (e.g. <see cref="LedgerArguments.Options"/>, read while the ledger opens) count as
    /// known. Commands call it before they start or connect to anything, so a typo never starts a server first.
    /// </summary>
    public void RejectUnknown(IEnumerable<string> readLater)
    {
        ArgumentNullException.ThrowIfNull(readLater);
        var later = readLater as IReadOnlyCollection<string> ?? readLater.ToList();
        foreach (var key in _options.Keys)
        {
            if (!_consumed.Contains(key) && !later.Contains(key))
            {
                throw new CliUsageException($"unknown option --{key}");
            }
        }
    }
}
