using Metering.Ledger.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Metering.Web.Observability;

/// <summary>
/// The Prometheus export of the metering meter (every stage's instruments) and ASP.NET Core's HTTP meters: used by <c>metering serve</c>
/// and, through <see cref="BuildServer"/>, by any other long-running command (the streaming engine) that must expose
/// <c>/metrics</c> from its own process.
/// </summary>
public static class MetricsExport
{
    /// <summary>Registers the OpenTelemetry meter provider with the Prometheus exporter (scrapes are never cached).</summary>
    public static IServiceCollection AddMeteringMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("metering")).WithMetrics(m => m
            .AddMeter(MeteringMeter.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    /// <summary>
    /// A minimal server with only <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> (all anonymous) listening on
    /// <paramref name="listenUrl"/>, e.g. <c>http://0.0.0.0:9464</c>. Start it with <c>StartAsync</c> next to the work and
    /// dispose it at the end. <paramref name="health"/> (e.g. the engine's watchdog) makes <c>/healthz</c> answer 503 with
    /// its detail while it reports unhealthy, so a liveness probe restarts the process; without it <c>/healthz</c> answers
    /// "ok". <paramref name="ready"/> (e.g. "the last export pass succeeded", "PostgreSQL answers"; asked at each probe) does the
    /// same for <c>/readyz</c>; without it
    /// <c>/readyz</c> answers as <c>/healthz</c> does.
    /// </summary>
    public static WebApplication BuildServer(string listenUrl, Action<WebApplicationBuilder>? configure = null, Func<(bool Healthy, string Detail)>? health = null,
        Func<CancellationToken, Task<(bool Ready, string Detail)>>? ready = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(listenUrl);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(MetricsExport).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(listenUrl);
        builder.Services.AddMeteringMetrics();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapGet("/healthz", () => Probe(health?.Invoke(), "unhealthy"));
        app.MapGet("/readyz", async (CancellationToken cancellationToken) =>
            Probe(ready is null ? health?.Invoke() : await ready(cancellationToken).ConfigureAwait(false), "not ready"));
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static IResult Probe((bool Ok, string Detail)? state, string failed) => state is (false, var detail)
        ? Results.Text(failed + ": " + detail, statusCode: StatusCodes.Status503ServiceUnavailable)
        : Results.Text("ok");
}
