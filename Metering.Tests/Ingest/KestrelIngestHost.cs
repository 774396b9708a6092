using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Metering.Tests.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Metering.Tests.Ingest;

/// <summary>
/// The API with HTTP ingest on real Kestrel on a loopback port (what <c>metering serve</c> runs), for behaviour the
/// TestServer does not have: connection limits, body data rates, broken framing. Raw requests go over a TcpClient.
/// </summary>
internal sealed class KestrelIngestHost : IAsyncDisposable
{
    private KestrelIngestHost(WebApplication app, NpgsqlDataSource db, ConcurrentQueue<(string Path, int Status)> answered)
    {
        App = app;
        Db = db;
        Answered = answered;
        BaseAddress = new Uri(app.Urls.First());
    }

    /// <summary>
    /// The status every request ended with on the server, outermost (after the exception handler): also for requests
    /// whose answer Kestrel never puts on the wire (a body cut short by the client).
    /// </summary>
    public ConcurrentQueue<(string Path, int Status)> Answered { get; }

    public WebApplication App { get; }

    public NpgsqlDataSource Db { get; }

    public Uri BaseAddress { get; }

    /// <summary>Starts the API with <paramref name="options"/> (default: the test issuer and key, ingest into <paramref name="service"/>).</summary>
    public static async Task<KestrelIngestHost> StartAsync(HttpIngestService service, ApiOptions? options = null)
    {
        var db = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Database=unused;Username=unused");
        options ??= new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, HttpIngest = service };
        var answered = new ConcurrentQueue<(string Path, int Status)>();
        var app = ApiHost.Build(options, db, new InMemoryUsageStore(), b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Services.AddSingleton<IStartupFilter>(new StatusRecorder(answered));
        });
        await app.StartAsync();
        return new KestrelIngestHost(app, db, answered);
    }

    /// <summary>A client without credentials; add them per request or with <see cref="Bearer"/> / <see cref="ApiKey"/>.</summary>
    public HttpClient Client() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public HttpClient Bearer(string scopes, string? account = null)
    {
        var client = Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token(scopes, account));
        return client;
    }

    public HttpClient ApiKey(string key)
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    /// <summary>A raw connection to the server.</summary>
    public async Task<RawConnection> ConnectAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(BaseAddress.Host, BaseAddress.Port);
        return new RawConnection(tcp);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Db.DisposeAsync();
    }

    private sealed class StatusRecorder(ConcurrentQueue<(string Path, int Status)> answered) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (http, inner) =>
            {
                try
                {
                    await inner(http);
                }
                finally
                {
                    answered.Enqueue((http.Request.Path.Value ?? "", http.Response.StatusCode));
                }
            });
            next(app);
        };
    }

    /// <summary>One HTTP/1.1 connection written byte by byte, to send what HttpClient never would.</summary>
    internal sealed class RawConnection(TcpClient tcp) : IDisposable
    {
        private readonly NetworkStream _stream = tcp.GetStream();
        private readonly MemoryStream _received = new();

        public Task SendAsync(string text) => _stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

        /// <summary>Ends the request side (TCP half-close): the server sees the end of the body, and can still answer.</summary>
        public void EndSending() => tcp.Client.Shutdown(SocketShutdown.Send);

        /// <summary>Reads one response: status code and the raw text after the headers (chunked or not, as sent).</summary>
        public async Task<(int Status, string Headers, string Body)> ReadResponseAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[8192];
            while (true)
            {
                var text = Encoding.UTF8.GetString(_received.GetBuffer(), 0, (int)_received.Length);
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end >= 0)
                {
                    var headers = text[..end];
                    var body = text[(end + 4)..];
                    var chunked = headers.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase);
                    var length = ContentLength(headers);
                    if ((chunked && body.Contains("0\r\n\r\n", StringComparison.Ordinal)) || (length is { } n && Encoding.UTF8.GetByteCount(body) >= n))
                    {
                        return (int.Parse(headers.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, body);
                    }
                }

                var read = await _stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    Assert.True(end >= 0, $"the server closed the connection without an answer; received: '{text}'");
                    var headers = text[..end];
                    return (int.Parse(headers.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, text[(end + 4)..]);
                }

                _received.Write(buffer, 0, read);
            }
        }

        /// <summary>Everything the server sends until it closes the connection.</summary>
        public async Task<string> ReadToEndAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var buffer = new byte[8192];
            try
            {
                int read;
                while ((read = await _stream.ReadAsync(buffer, cts.Token)) > 0)
                {
                    _received.Write(buffer, 0, read);
                }
            }
            catch (IOException)
            {
                // A reset is a close too.
            }

            return Encoding.UTF8.GetString(_received.GetBuffer(), 0, (int)_received.Length);
        }

        private static int? ContentLength(string headers)
        {
            foreach (var line in headers.Split("\r\n"))
            {
                if (line.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))
                {
                    return int.Parse(line["content-length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            return null;
        }

        public void Dispose()
        {
            _stream.Dispose();
            tcp.Dispose();
            _received.Dispose();
        }
    }
}
