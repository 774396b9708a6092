using Metering.Web.Observability;
using Microsoft.AspNetCore.Builder;

namespace Metering.Cli.Arguments;

/// <summary>
/// <c>--metrics-port</c> and <c>--metrics-listen</c> of the long-running commands that are not <c>serve</c>
/// (<c>export --follow</c>, <c>alerts dispatch</c>): where their own <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> listen.
/// </summary>
public static class MetricsArguments
{
    /// <summary>The port a long-running command serves its metrics on unless told otherwise (the chart's metrics port).</summary>
    public const int DefaultPort = 9464;

    /// <summary>Usage text of the options.</summary>
    public const string Usage =
        "  --metrics-port N           serve /metrics (Prometheus), /healthz and /readyz on http://0.0.0.0:N (default 9464\n" +
        "                             while running continuously; 0 = none)\n" +
        "  --metrics-listen URL       the same on this URL instead, e.g. http://127.0.0.1:9464 (wins over --metrics-port)\n";

    /// <summary>
    /// The listen URL the options name, or null for none. <paramref name="continuous"/>: the command keeps running, so
    /// metrics are on by default (a one-shot run serves them only when asked, it would be gone before a scrape).
    /// </summary>
    public static string? Listen(CliArguments args, bool continuous)
    {
        ArgumentNullException.ThrowIfNull(args);
        var port = args.Int64("metrics-port", continuous ? DefaultPort : 0, 0, 65535);
        return args.String("metrics-listen") ?? (port > 0 ? $"http://0.0.0.0:{port}" : null);
    }

    /// <summary>Starts the metrics server; a busy port or a bad URL is a usage error on one line (exit 2).</summary>
    public static async Task<WebApplication> StartAsync(string listen, Func<(bool Healthy, string Detail)>? health, Func<CancellationToken, Task<(bool Ready, string Detail)>>? ready, CancellationToken cancellationToken)
    {
        var app = MetricsExport.BuildServer(listen, health: health, ready: ready);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return app;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or ArgumentException && !cancellationToken.IsCancellationRequested)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new CliUsageException($"metrics on {listen}: {e.Message.ReplaceLineEndings(" ")} (another server on that port? give --metrics-port or --metrics-listen)", showUsage: false);
        }
    }
}
