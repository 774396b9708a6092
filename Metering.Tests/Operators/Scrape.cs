using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Metering.Tests.Operators;

/// <summary>Reads Prometheus text: a series' value by name and label, and a free loopback port to listen on.</summary>
internal static partial class Scrape
{
    /// <summary>The value of <paramref name="series"/> on the line whose labels contain <paramref name="label"/> (e.g. <c>database="x"</c>), or null.</summary>
    public static decimal? Value(string scrape, string series, string? label = null)
    {
        foreach (Match m in SeriesLine().Matches(scrape))
        {
            if (m.Groups[1].Value == series && (label is null || m.Groups[2].Value.Contains(label, StringComparison.Ordinal)))
            {
                return decimal.Parse(m.Groups[3].Value, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>Every series name in a scrape (the <c># TYPE</c> lines' names and every sample's).</summary>
    public static HashSet<string> Names(string scrape) =>
        [.. SeriesLine().Matches(scrape).Select(m => m.Groups[1].Value)];

    /// <summary>GET <paramref name="path"/>'s status and body, or null while nothing listens yet.</summary>
    public static async Task<(HttpStatusCode Status, string Body)?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Polls <paramref name="probe"/> until it returns true or <paramref name="timeout"/> passes (then fails with <paramref name="what"/>).</summary>
    public static async Task UntilAsync(Func<Task<bool>> probe, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await probe())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail(what());
            }

            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.eE+-]+|NaN|\+Inf)", RegexOptions.Multiline)]
    private static partial Regex SeriesLine();
}
