using System.Net;
using System.Net.Sockets;
using System.Text;
using Metering.Analytics;
using Metering.Tests.Storage;

namespace Metering.Tests.Analytics;

/// <summary>
/// No ClickHouse server can run here, so a fake one records exactly what the HTTP transport sends; the recorded
/// statements and Arrow bodies are then replayed into chDB, which must end up with the ledger's sums.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClickHouseHttpTransportTests(PostgresFixture postgres)
{
    private sealed record Captured(string Method, string Path, Dictionary<string, string> Query, Dictionary<string, string> Headers, byte[] Body);

    private sealed class FakeServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _loop;

        public FakeServer(Func<Captured, string> answer, int status = 200)
        {
            var port = FreePort();
            Url = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Url.ToString());
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                    {
                        return;
                    }

                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    var query = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var pair in (context.Request.Url!.Query.TrimStart('?')).Split('&', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var eq = pair.IndexOf('=', StringComparison.Ordinal);
                        query[Uri.UnescapeDataString(pair[..eq])] = Uri.UnescapeDataString(pair[(eq + 1)..]);
                    }

                    var headers = context.Request.Headers.AllKeys.ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
                    var captured = new Captured(context.Request.HttpMethod, context.Request.Url.AbsolutePath, query, headers, body.ToArray());
                    lock (Requests)
                    {
                        Requests.Add(captured);
                    }

                    var reply = Encoding.UTF8.GetBytes(answer(captured));
                    try
                    {
                        context.Response.StatusCode = status;
                        // A known length, not chunked: the managed HttpListener can leave a chunked body's final "0"
                        // on a kept-alive connection, which the next request then reads as its status line.
                        context.Response.ContentLength64 = reply.Length;
                        await context.Response.OutputStream.WriteAsync(reply);
                        context.Response.Close();
                    }
                    catch (Exception e) when (e is ObjectDisposedException or HttpListenerException or IOException or InvalidOperationException)
                    {
                        // the client gave up (timeout test) or the listener stopped
                    }
                }
            });
        }

        public Uri Url { get; }

        public List<Captured> Requests { get; } = [];

        private static int FreePort()
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _ = Task.WaitAny([_loop], TimeSpan.FromSeconds(5)); // a fault of the fake is not the test's verdict
        }
    }

    [Fact]
    public async Task Exported_statements_and_arrow_bodies_sent_over_http_load_into_chdb_with_the_ledger_sums()
    {
        var (db, _, chdb, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var _ = db;
        await OutboxSeeder.SeedAsync(db, 1_200, seed: 31);
        using var server = new FakeServer(_ => "");
        using (var http = new ClickHouseHttpTransport(server.Url, "metering", "s3cret"))
        {
            var result = await new AnalyticsExporter(db, http, schema, batchSize: 500).ExportOnceAsync(default);
            Assert.Equal(1_200, result.Rows);
        }

        List<Captured> requests;
        lock (server.Requests)
        {
            requests = [.. server.Requests];
        }

        Assert.All(requests, r => Assert.Equal("POST", r.Method));
        Assert.All(requests, r => Assert.Equal("metering", r.Headers["X-ClickHouse-User"]));
        Assert.All(requests, r => Assert.Equal("s3cret", r.Headers["X-ClickHouse-Key"]));
        var ddl = requests.Where(r => !r.Query.ContainsKey("query")).Select(r => Encoding.UTF8.GetString(r.Body)).ToList();
        Assert.Equal(schema.CreateStatements(), ddl);
        var inserts = requests.Where(r => r.Query.ContainsKey("query")).ToList();
        Assert.Equal(3, inserts.Count);

        // Replay exactly what the server would have received into chDB.
        foreach (var statement in ddl)
        {
            await chdb.ExecuteAsync(statement, default);
        }

        foreach (var insert in inserts)
        {
            const string Suffix = " FORMAT ArrowStream";
            var sql = insert.Query["query"];
            Assert.EndsWith(Suffix, sql, StringComparison.Ordinal);
            Assert.Equal(schema.InsertHead, sql[..^Suffix.Length]);
            Assert.Equal("application/vnd.apache.arrow.stream", insert.Headers["Content-Type"]);
            await chdb.InsertArrowAsync(sql[..^Suffix.Length], insert.Body, default);
        }

        Assert.Equal(
            (await AnalyticsExporterTests.LedgerSumsAsync(db)).OrderBy(k => k.Key, StringComparer.Ordinal),
            (await AnalyticsExporterTests.ClickHouseSumsAsync(chdb, schema)).OrderBy(k => k.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Queries_bind_parameters_in_the_url_and_read_the_jsoncompact_answer()
    {
        using var server = new FakeServer(_ => """{"meta":[{"name":"a","type":"String"}],"data":[["x\ty", "123456789012345678.000000001", null]],"rows":1}""");
        using var http = new ClickHouseHttpTransport(server.Url);
        var rows = await http.QueryAsync("SELECT {a:String}", [new("a", "o'b\\c\td")], default);
        Assert.Equal("x\ty|123456789012345678.000000001|", string.Join('|', rows[0]));
        var request = Assert.Single(server.Requests);
        Assert.Equal("SELECT {a:String}", Encoding.UTF8.GetString(request.Body));
        Assert.Equal("JSONCompact", request.Query["default_format"]);
        Assert.Equal("o'b\\\\c\\td", request.Query["param_a"]);
        Assert.False(request.Headers.ContainsKey("X-ClickHouse-User"));
    }

    [Fact]
    public async Task A_server_error_becomes_a_clickhouse_exception_with_its_text()
    {
        using var server = new FakeServer(_ => "Code: 60. DB::Exception: Unknown table expression identifier 'nope'", status: 404);
        using var http = new ClickHouseHttpTransport(server.Url);
        var e = await Assert.ThrowsAsync<ClickHouseException>(() => http.ExecuteAsync("SELECT * FROM nope", default));
        Assert.Contains("HTTP 404", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unknown table expression identifier 'nope'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_in_time_is_a_clickhouse_exception_and_not_ready()
    {
        using var server = new FakeServer(_ =>
        {
            Thread.Sleep(1_500);
            return "";
        });
        using var client = new HttpClient { Timeout = TimeSpan.FromMilliseconds(300) };
        using var http = new ClickHouseHttpTransport(server.Url, httpClient: client);
        var e = await Assert.ThrowsAsync<ClickHouseException>(() => http.ExecuteAsync("SELECT 1", default));
        Assert.Contains("timed out", e.Message, StringComparison.Ordinal);
        Assert.False(await new ClickHouseUsageStore(http, new AnalyticsSchema("metering")).PingAsync(default));
    }
}
