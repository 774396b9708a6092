using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The HTTP edge's baseline for <c>metering loadgen</c>: the least a Kestrel endpoint can do with the same requests.
/// <c>POST /v1/events</c> on a free loopback port reads each body to its end from the request pipe, counts its lines
/// (so the load generator's "every record accepted" check means the same for both) and answers 202 with
/// <c>{"accepted":N}</c>: no authentication, no parsing, no Kafka. The ratio edge / this endpoint, measured in the same
/// process on the same bodies, is what the edge's own work costs.
/// </summary>
public sealed class DiscardingEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DiscardingEndpoint(WebApplication app) => _app = app;

    /// <summary>The base address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url => _app.Urls.First();

    /// <summary>Starts the endpoint on a free loopback port.</summary>
    public static async Task<DiscardingEndpoint> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // The edge lifts Kestrel's 30 MB request body limit for its own; the baseline must not refuse what it takes.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        app.MapPost("/v1/events", DiscardAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return new DiscardingEndpoint(app);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task DiscardAsync(HttpContext http)
    {
        var reader = http.Request.BodyReader;
        long lines = 0;
        while (true)
        {
            var result = await reader.ReadAsync(http.RequestAborted).ConfigureAwait(false);
            foreach (var segment in result.Buffer)
            {
                lines += segment.Span.Count((byte)'\n');
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        http.Response.StatusCode = StatusCodes.Status202Accepted;
        http.Response.ContentType = "application/json";
        var answer = string.Create(CultureInfo.InvariantCulture, $"{{\"accepted\":{lines}}}");
        var span = http.Response.BodyWriter.GetSpan(answer.Length);
        var written = System.Text.Encoding.ASCII.GetBytes(answer, span);
        http.Response.BodyWriter.Advance(written);
        await http.Response.BodyWriter.FlushAsync(http.RequestAborted).ConfigureAwait(false);
    }
}
