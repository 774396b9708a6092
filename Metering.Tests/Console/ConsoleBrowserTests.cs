using System.Globalization;
using System.Net;
using System.Text.Json;
using Metering.Ingest.Observability;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.WebConsole;

/// <summary>
/// The console in a real headless Chromium over a running server (PostgreSQL + chDB, <see cref="ConsoleSite"/>): each
/// test signs in by typing a token, opens a page, and checks that the numbers on screen are the API's, exactly. Each page
/// test saves a screenshot under the test output (console-screenshots/).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ConsoleBrowserTests(PostgresFixture postgres)
{
    private const string UsageQuery = "account=acct-u&from=2026-10-29T00:00:00Z&to=2026-11-04T00:00:00Z&granularity=hour&group_by=region";

    private static string ScreenshotPath(string page) => Path.Combine(AppContext.BaseDirectory, "console-screenshots", page + ".png");

    private static async Task SignInAsync(HeadlessChromium browser, ConsoleSite site, string token)
    {
        await browser.NavigateAsync(site.Url + "/");
        await browser.WaitForAsync("document.getElementById('main').dataset.page === 'signin' && document.getElementById('main').dataset.state === 'ready'");
        await browser.TypeAsync("#token", token);
        await browser.ClickAsync("#signin");
        await browser.WaitForAsync("document.getElementById('main').dataset.page === 'usage' && document.getElementById('main').dataset.state !== 'loading'");
    }

    /// <summary>Opens a page by its route (a hash change, as the navigation does) and waits until it has rendered.</summary>
    private static async Task OpenAsync(HeadlessChromium browser, string route, string page)
    {
        await browser.EvaluateAsync($"document.getElementById('main').dataset.state = 'stale'; location.hash = {JsonSerializer.Serialize(route)}");
        await browser.WaitForAsync($"document.getElementById('main').dataset.page === '{page}' && ['ready', 'error'].includes(document.getElementById('main').dataset.state)");
    }

    /// <summary>The text of every cell of the rows matching <paramref name="rows"/>.</summary>
    private static async Task<List<string[]>> CellsAsync(HeadlessChromium browser, string rows)
    {
        var value = await browser.EvaluateAsync($"[...document.querySelectorAll({JsonSerializer.Serialize(rows)})].map(r => [...r.cells].map(c => c.textContent.trim()))");
        return [.. value.EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetString()!).ToArray())];
    }

    private static async Task<string> TextAsync(HeadlessChromium browser, string selector) =>
        (await browser.EvaluateAsync($"(document.querySelector({JsonSerializer.Serialize(selector)}) || {{}}).textContent || ''")).GetString()!.Trim();

    /// <summary>A number as the console shows it ("1,234.50" or "1,234.50 USD") back to the exact decimal.</summary>
    private static decimal Shown(string text) => decimal.Parse(text.Split(' ')[0].Replace(",", "", StringComparison.Ordinal), NumberStyles.Number, CultureInfo.InvariantCulture);

    private static decimal Dec(JsonElement e) => decimal.Parse(e.GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture);

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await ApiTestHost.Json(response);
    }

    [Fact]
    public async Task Usage_page_shows_the_apis_buckets_and_totals_per_sku_and_dimension_and_the_open_periods_live_counters()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        await using var browser = await HeadlessChromium.StartAsync();
        var token = ApiTestHost.Token("usage:read billing:read");
        await SignInAsync(browser, site, token);
        await OpenAsync(browser, "#/usage?" + UsageQuery, "usage");
        Assert.Equal("ready", (await browser.EvaluateAsync("document.getElementById('main').dataset.state")).GetString());

        using var api = site.Client(token);
        var points = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await GetJsonAsync(api, $"/v1/usage?{UsageQuery}&limit=10000" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            points.AddRange(page.GetProperty("points").EnumerateArray());
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);
        Assert.True(points.Count > 100, $"the seeded range has usage ({points.Count} points)");

        // Every bucket the API returned is on the page with its exact quantity, count and amount, and nothing else is.
        static string Dims(JsonElement p) => p.GetProperty("dimensions").TryGetProperty("region", out var r) ? "region=" + r.GetString() : "region=";
        var expected = points.Select(p => string.Join("|", p.GetProperty("bucket_start").GetDateTimeOffset().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            p.GetProperty("sku").GetString(), Dims(p), p.GetProperty("quantity").GetString(), p.GetProperty("record_count").GetInt64(), p.GetProperty("amount").GetString())).Order(StringComparer.Ordinal).ToList();
        var shownPoints = (await CellsAsync(browser, "#points tbody tr")).Select(c => string.Join("|",
            DateTimeOffset.Parse(c[0], CultureInfo.InvariantCulture).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), c[1], c[2],
            c[3].Replace(",", "", StringComparison.Ordinal), c[4].Replace(",", "", StringComparison.Ordinal), c[5].Replace(",", "", StringComparison.Ordinal))).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, shownPoints);

        // The totals per SKU are the exact sums of the API's buckets (decimal, never float).
        var totals = await CellsAsync(browser, "#usage-totals tbody tr");
        var skus = points.GroupBy(p => p.GetProperty("sku").GetString()!).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(skus.Select(g => g.Key), totals.Select(t => t[0]));
        foreach (var (g, row) in skus.Zip(totals))
        {
            Assert.Equal(g.Sum(p => p.GetProperty("record_count").GetInt64()), (long)Shown(row[1]));
            Assert.Equal(g.Sum(p => Dec(p.GetProperty("quantity"))), Shown(row[2]));
            Assert.Equal(g.Sum(p => Dec(p.GetProperty("amount"))), Shown(row[3]));
        }

        // One chart per SKU, one line per region.
        Assert.Equal(skus.Count, (await browser.EvaluateAsync("document.querySelectorAll('#history figure.chart svg[role=img]').length")).GetInt32());
        var regions = points.Select(Dims).Distinct().Count();
        Assert.Equal(regions, (await browser.EvaluateAsync("document.querySelectorAll('#chart-0 .legend li').length")).GetInt32());

        // Live counters of the open period: what /usage/live answers.
        var live = await GetJsonAsync(api, "/v1/accounts/acct-u/usage/live");
        var liveRows = await CellsAsync(browser, "#live-table tbody tr");
        var liveLines = live.GetProperty("lines").EnumerateArray().ToList();
        Assert.NotEmpty(liveLines);
        Assert.Equal(liveLines.Select(l => (l.GetProperty("sku").GetString(), l.GetProperty("record_count").GetInt64(), Dec(l.GetProperty("quantity")), Dec(l.GetProperty("amount")))),
            liveRows.Select(r => ((string?)r[0], (long)Shown(r[1]), Shown(r[2]), Shown(r[3]))));
        Assert.Contains((string?)"requests", liveRows.Select(r => (string?)r[0]));

        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("usage"));
    }

    [Fact]
    public async Task Statement_page_shows_every_line_and_total_of_the_apis_statement_links_its_price_book_and_exports_the_same_lines()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        await using var browser = await HeadlessChromium.StartAsync();
        var token = ApiTestHost.Token("billing:read usage:read");
        await SignInAsync(browser, site, token);
        await OpenAsync(browser, "#/statements?account=acct-c&period=2026-11", "statements");

        using var api = site.Client(token);
        var s = await GetJsonAsync(api, "/v1/accounts/acct-c/statements/2026-11");
        Assert.Equal(s.GetProperty("status").GetString(), await TextAsync(browser, "#status"));
        Assert.Contains(s.GetProperty("content_hash").GetString()!, await TextAsync(browser, "#statement"), StringComparison.Ordinal);

        var usage = s.GetProperty("usage").EnumerateArray().ToList();
        Assert.Equal(3, usage.Count);
        Assert.Contains(usage, u => u.GetProperty("tiers").GetArrayLength() == 2); // cpu.ms crosses into the second tier
        foreach (var line in usage)
        {
            var id = line.GetProperty("line_id").GetString()!;
            var row = (await CellsAsync(browser, $"#usage-lines tr[data-line='{id}']")).Single();
            Assert.Equal(line.GetProperty("sku").GetString(), row[0]);
            Assert.Equal(Dec(line.GetProperty("recorded_quantity")), Shown(row[1]));
            Assert.Equal(Dec(line.GetProperty("included_units_applied")), Shown(row[2]));
            Assert.Equal(Dec(line.GetProperty("billable_quantity")), Shown(row[3]));
            Assert.Equal(line.GetProperty("amount").GetString() + " " + line.GetProperty("currency").GetString(), row[6].Replace(",", "", StringComparison.Ordinal));
            var tiers = (await browser.EvaluateAsync($"[...document.querySelectorAll(\"#usage-lines tr[data-line='{id}'] .tiers li\")].map(li => li.textContent)")).EnumerateArray().Select(t => t.GetString()!).ToList();
            Assert.Equal(line.GetProperty("tiers").GetArrayLength(), tiers.Count);
            foreach (var (tier, text) in line.GetProperty("tiers").EnumerateArray().Zip(tiers))
            {
                Assert.EndsWith($" × {tier.GetProperty("unit_price").GetString()}" + (tier.GetProperty("flat_fee").GetString() == "0" ? "" : $" + {tier.GetProperty("flat_fee").GetString()} flat") + $" = {tier.GetProperty("amount").GetString()}", text, StringComparison.Ordinal);
            }
            var link = (await browser.EvaluateAsync($"document.querySelector(\"#usage-lines tr[data-line='{id}'] a\").getAttribute('href')")).GetString();
            Assert.Equal("#/pricebooks?hash=" + Uri.EscapeDataString(line.GetProperty("price_book_hash").GetString()!), link);
        }

        var fee = s.GetProperty("fees").EnumerateArray().Single();
        var feeRow = (await CellsAsync(browser, "#fee-lines tbody tr")).Single();
        Assert.Equal((fee.GetProperty("fee_id").GetString(), fee.GetProperty("proration_factor").GetString(), Dec(fee.GetProperty("amount"))), (feeRow[0], feeRow[3], Shown(feeRow[4])));
        var commitment = s.GetProperty("commitments").EnumerateArray().Single();
        var commitmentRow = (await CellsAsync(browser, "#commitment-lines tbody tr")).Single();
        Assert.Equal((Dec(commitment.GetProperty("committed")), Dec(commitment.GetProperty("usage_charged")), Dec(commitment.GetProperty("true_up"))),
            (Shown(commitmentRow[0]), Shown(commitmentRow[1]), Shown(commitmentRow[2])));
        var total = s.GetProperty("totals").EnumerateArray().Single();
        var totalRow = (await CellsAsync(browser, "#totals tbody tr")).Single();
        Assert.Equal(new[] { "usage", "fees", "commitments", "adjustments", "total" }.Select(k => Dec(total.GetProperty(k))), totalRow.Skip(1).Select(Shown));
        Assert.True(Dec(total.GetProperty("total")) > 0);
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("statements"));

        // The exports hold the same lines: usage, fee and commitment, with the API's amounts.
        var downloads = Path.Combine(Path.GetTempPath(), "metering-console-downloads-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(downloads);
        try
        {
            await browser.AllowDownloadsAsync(downloads);
            await browser.ClickAsync("#export-ndjson");
            var ndjson = await WaitForFileAsync(downloads, ".ndjson");
            var lines = (await File.ReadAllLinesAsync(ndjson)).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Equal(usage.Select(u => ("usage", u.GetProperty("line_id").GetString(), u.GetProperty("amount").GetString()))
                    .Append(("fee", fee.GetProperty("line_id").GetString(), fee.GetProperty("amount").GetString()))
                    .Append(("commitment", commitment.GetProperty("line_id").GetString(), commitment.GetProperty("true_up").GetString())),
                lines.Select(l => (l.GetProperty("kind").GetString()!, l.GetProperty("line_id").GetString(), l.GetProperty("amount").GetString())));
            await browser.ClickAsync("#export-csv");
            var csv = await File.ReadAllLinesAsync(await WaitForFileAsync(downloads, ".csv"));
            Assert.StartsWith("account,period_start,status,statement_id,content_hash,kind,line_id,", csv[0], StringComparison.Ordinal);
            Assert.Equal(lines.Count + 1, csv.Length);
        }
        finally
        {
            Directory.Delete(downloads, recursive: true);
        }

        // The lineage link opens the version that priced the line.
        await browser.ClickAsync("#usage-lines tbody tr a");
        await browser.WaitForAsync("document.getElementById('main').dataset.page === 'pricebooks' && document.getElementById('main').dataset.state === 'ready'");
        var first = usage[0];
        Assert.Equal($"{first.GetProperty("price_book").GetString()} version {first.GetProperty("price_book_version").GetString()}", await TextAsync(browser, "#by-hash h2"));
    }

    private static async Task<string> WaitForFileAsync(string directory, string extension)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var file = Directory.GetFiles(directory, "*" + extension).FirstOrDefault();
            if (file is not null)
            {
                return file;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no {extension} download in {directory}: {string.Join(", ", Directory.GetFiles(directory))}");
    }

    [Fact]
    public async Task Price_book_page_shows_every_published_version_on_a_timeline_and_the_diff_between_two_versions()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        await using var browser = await HeadlessChromium.StartAsync();
        var token = ApiTestHost.Token("billing:read");
        await SignInAsync(browser, site, token);
        await OpenAsync(browser, "#/pricebooks?left=list/v1&right=list/v2", "pricebooks");

        using var api = site.Client(token);
        var books = (await GetJsonAsync(api, "/v1/pricebooks")).GetProperty("books").EnumerateArray().ToList();
        var versions = books.SelectMany(b => b.GetProperty("versions").EnumerateArray().Select(v => (b.GetProperty("id").GetString()!, v))).ToList();
        Assert.Equal(3, versions.Count);
        foreach (var (id, v) in versions)
        {
            var row = (await CellsAsync(browser, $"tr[data-version='{id}/{v.GetProperty("version").GetString()}']")).Single();
            Assert.Equal(v.GetProperty("effective_from").GetString(), row[1]);
            Assert.Equal(v.GetProperty("effective_to").ValueKind == JsonValueKind.Null ? "open" : v.GetProperty("effective_to").GetString(), row[2]);
        }

        // v2 superseded nothing before 2027 but ends v1 there: the registry's ranges are what the timeline draws.
        Assert.Equal(books.Count, (await browser.EvaluateAsync("document.querySelectorAll('figure.chart svg').length")).GetInt32());
        Assert.Equal(books.Select(b => b.GetProperty("versions").GetArrayLength()), (await browser.EvaluateAsync("[...document.querySelectorAll('figure.chart svg')].map(s => s.querySelectorAll('rect').length)")).EnumerateArray().Select(e => e.GetInt32()));

        // The diff names exactly the leaves that differ between the two documents as the API serves them.
        var v1 = (await GetJsonAsync(api, "/v1/pricebooks/list/versions/v1")).GetProperty("document");
        var v2 = (await GetJsonAsync(api, "/v1/pricebooks/list/versions/v2")).GetProperty("document");
        var expected = LeafDiff(v1, v2, "$").Select(p => p.Replace("$.versions[0]", "$.version", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        var shown = await CellsAsync(browser, "#diff-table tbody tr");
        Assert.Equal(expected, shown.Select(r => r[0]).Order(StringComparer.Ordinal).ToList());
        var price = shown.Single(r => r[0] == "$.version.prices.requests.unit_price");
        Assert.Equal(("changed", "0.01", "0.012"), (price[1], price[2], price[3]));
        Assert.Contains(shown, r => r[0] == "$.version.effective_from" && r[2] == "2026-10-01T00:00:00Z" && r[3] == "2027-01-01T00:00:00Z");
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("pricebooks"));
    }

    // Paths of the leaves that differ (added, removed, changed), the reference for the page's diff.
    private static IEnumerable<string> LeafDiff(JsonElement? a, JsonElement? b, string path)
    {
        var objects = a?.ValueKind == JsonValueKind.Object && b?.ValueKind == JsonValueKind.Object;
        var arrays = a?.ValueKind == JsonValueKind.Array && b?.ValueKind == JsonValueKind.Array;
        if (objects)
        {
            var keys = a!.Value.EnumerateObject().Select(p => p.Name).Union(b!.Value.EnumerateObject().Select(p => p.Name));
            return keys.SelectMany(k => LeafDiff(a.Value.TryGetProperty(k, out var x) ? x : null, b.Value.TryGetProperty(k, out var y) ? y : null, $"{path}.{k}"));
        }

        if (arrays)
        {
            var n = Math.Max(a!.Value.GetArrayLength(), b!.Value.GetArrayLength());
            return Enumerable.Range(0, n).SelectMany(i => LeafDiff(i < a.Value.GetArrayLength() ? a.Value[i] : null, i < b.Value.GetArrayLength() ? b.Value[i] : null, $"{path}[{i}]"));
        }

        return a?.GetRawText() == b?.GetRawText() ? [] : [path];
    }

    [Fact]
    public async Task Operators_page_shows_the_readiness_checks_lag_per_partition_flushes_and_dead_letters_by_reason_the_server_reports()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        await using var browser = await HeadlessChromium.StartAsync();
        // The engine's meters are the process's: what a stream process in this one would report. The topic and the
        // reason are this test's own, so series of other tests running alongside cannot be mistaken for them.
        var topic = "console-" + Guid.NewGuid().ToString("N")[..8];
        var reason = "console_test_" + Guid.NewGuid().ToString("N")[..8];
        using var lag = MeteringMetrics.RegisterConsumerLag(() => [new PartitionLag(topic, 0, 42), new PartitionLag(topic, 1, 7)]);
        MeteringMetrics.RecordsRejected(3, reason);
        MeteringMetrics.FlushCompleted(TimeSpan.FromMilliseconds(250));
        await SignInAsync(browser, site, ApiTestHost.Token("billing:read usage:read"));
        await OpenAsync(browser, "#/operators", "operators");

        using var api = site.Client();
        var ready = await GetJsonAsync(api, "/readyz");
        Assert.Equal(ready.GetProperty("status").GetString(), await TextAsync(browser, "#ready-status"));
        Assert.Equal(ready.GetProperty("checks").EnumerateObject().Select(c => new[] { c.Name, c.Value.GetString()! }), await CellsAsync(browser, "#readiness tbody tr"));

        var lagRows = (await CellsAsync(browser, "#lag tbody tr")).Where(r => r[0].Contains("topic=" + topic, StringComparison.Ordinal)).ToList();
        Assert.Equal(new[] { ("partition=0", 42m), ("partition=1", 7m) }, lagRows.Select(r => (r[0].Split(", ").Single(l => l.StartsWith("partition=", StringComparison.Ordinal)), Shown(r[1]))).Order());
        Assert.Equal("3", (await CellsAsync(browser, $"#dead-letters tr[data-reason='{reason}']")).Single()[1]);
        var flushes = (await CellsAsync(browser, "#flush tbody tr")).Single();
        Assert.True(Shown(flushes[1]) >= 1, $"flushes shown: {flushes[1]}");
        Assert.Contains(" series read from /metrics", await TextAsync(browser, "#main > p.muted:last-child"), StringComparison.Ordinal);
        Assert.NotEqual("", await TextAsync(browser, "#reconcile .note"));
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("operators"));
    }

    [Fact]
    public async Task Operators_page_shows_the_ledgers_dead_letters_by_reason_and_a_reconcile_of_the_period_exactly_as_the_api_reports_them()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        // Dead letters of two reasons, one of them already published to the dead-letter topic.
        foreach (var (reason, published) in new[] { ("bad_json", false), ("bad_json", false), ("bad_json", true), ("unknown_sku", false), ("unknown_sku", true) })
        {
            await using var cmd = site.Db.CreateCommand("INSERT INTO dead_letters (source, partition, \"offset\", reason, detail, raw, published_at) VALUES ('kafka:usage', 0, 1, $1, 'test', '\\x7b'::bytea, $2)");
            cmd.Parameters.Add(new NpgsqlParameter { Value = reason });
            cmd.Parameters.Add(new NpgsqlParameter { Value = published ? DateTimeOffset.UtcNow : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await cmd.ExecuteNonQueryAsync();
        }

        var admin = ApiTestHost.Token("admin");
        await using var browser = await HeadlessChromium.StartAsync();
        await SignInAsync(browser, site, admin);
        await OpenAsync(browser, "#/operators?period=2026-11", "operators");

        using var api = site.Client(admin);
        var letters = await GetJsonAsync(api, "/v1/operators/dead-letters");
        Assert.Equal(5, letters.GetProperty("total").GetInt64());
        Assert.Equal(letters.GetProperty("total").GetInt64().ToString(CultureInfo.InvariantCulture), await TextAsync(browser, "#dead-letter-total"));
        Assert.Equal(letters.GetProperty("reasons").EnumerateArray().Select(r => new[] { r.GetProperty("reason").GetString()!, r.GetProperty("count").GetInt64().ToString(CultureInfo.InvariantCulture), r.GetProperty("unpublished").GetInt64().ToString(CultureInfo.InvariantCulture) }),
            (await CellsAsync(browser, "#dead-letter-table tbody tr")).Select(c => c[..3]));
        Assert.Equal(["bad_json", "3", "2"], (await CellsAsync(browser, "#dead-letter-table tr[data-reason='bad_json']")).Single()[..3]);

        // November: acct-u's totals are in ClickHouse, acct-c's and acct-d's were never exported: four drifting rows.
        var reconcile = await GetJsonAsync(api, "/v1/operators/reconcile?period=2026-11");
        Assert.Equal("drift", reconcile.GetProperty("status").GetString());
        Assert.Equal(4, reconcile.GetProperty("drift_count").GetInt32());
        Assert.Equal("drift", await TextAsync(browser, "#reconcile-status"));
        Assert.Equal("4", await TextAsync(browser, "#reconcile-drift-count"));
        Assert.Equal(reconcile.GetProperty("drifts").EnumerateArray().Select(d => new[] { d.GetProperty("account").GetString()!, d.GetProperty("sku").GetString()!, d.GetProperty("field").GetString()!,
            d.GetProperty("ledger").GetString() ?? "missing", d.GetProperty("clickhouse").GetString() ?? "missing" }), await CellsAsync(browser, "#drifts tbody tr"));
        Assert.Equal(["acct-c", "acct-d"], (await CellsAsync(browser, "#drifts tbody tr")).Select(c => c[0]).Distinct().Order(StringComparer.Ordinal));

        // A period whose totals are all in ClickHouse is clean; the endpoints are admin-only and refuse bad input.
        var october = await GetJsonAsync(api, "/v1/operators/reconcile?period=2026-10");
        Assert.Equal("clean", october.GetProperty("status").GetString());
        using (var reader = site.Client(ApiTestHost.Token("billing:read usage:read")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/v1/operators/dead-letters")).StatusCode);
        }

        using (var bound = site.Client(ApiTestHost.Token("admin", account: "acct-c")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await bound.GetAsync("/v1/operators/reconcile?period=2026-11")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await api.GetAsync("/v1/operators/reconcile?period=november")).StatusCode);
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("operators-ledger"));
    }

    [Fact]
    public async Task Usage_page_shows_each_quota_with_its_state_and_every_alert_as_the_api_reports_them()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        using var admin = site.Client(ApiTestHost.Token("admin"));
        var ids = new List<long>();
        foreach (var body in new[] { """{"metric":"quantity","sku":"requests","threshold":"1000"}""", """{"metric":"amount","currency":"USD","threshold":"2500.5"}""" })
        {
            using var post = await admin.PostAsync("/v1/accounts/acct-u/quotas", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.True(post.IsSuccessStatusCode, await post.Content.ReadAsStringAsync());
            ids.Add((await ApiTestHost.Json(post)).GetProperty("id").GetInt64());
        }

        // The first quota crossed in the open period (the flush would have written this row) and was delivered to Kafka.
        await using (var cmd = site.Db.CreateCommand("""
            INSERT INTO alerts (alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end, delivered_kafka_at, attempts)
            VALUES ($1::text || ':open', $1, 'acct-u', 'requests', 'quantity', 1000, 950, 4321, NULL, $2, $3, now(), 1)
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = ids[0] });
            cmd.Parameters.Add(new NpgsqlParameter { Value = ConsoleSite.OpenPeriod });
            cmd.Parameters.Add(new NpgsqlParameter { Value = ConsoleSite.OpenPeriod.AddMonths(1) });
            await cmd.ExecuteNonQueryAsync();
        }

        var token = ApiTestHost.Token("usage:read billing:read");
        await using var browser = await HeadlessChromium.StartAsync();
        await SignInAsync(browser, site, token);
        await OpenAsync(browser, "#/usage?" + UsageQuery, "usage");

        using var api = site.Client(token);
        var quotas = (await GetJsonAsync(api, "/v1/accounts/acct-u/quotas")).EnumerateArray().ToList();
        var alerts = (await GetJsonAsync(api, "/v1/accounts/acct-u/alerts")).EnumerateArray().ToList();
        Assert.Equal(2, quotas.Count);
        var alert = Assert.Single(alerts);
        Assert.Equal(ids[0], alert.GetProperty("quota_id").GetInt64());
        Assert.Equal("4321", alert.GetProperty("value_at_crossing").GetString());

        var shown = await CellsAsync(browser, "#quota-table tbody tr");
        Assert.Equal(quotas.Select(q => q.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture)), shown.Select(r => r[0]));
        foreach (var (quota, row) in quotas.Zip(shown))
        {
            Assert.Equal(quota.GetProperty("metric").GetString(), row[1]);
            Assert.Equal(quota.GetProperty("metric").GetString() == "amount" ? quota.GetProperty("currency").GetString() : quota.GetProperty("sku").GetString(), row[2]);
            Assert.Equal(decimal.Parse(quota.GetProperty("threshold").GetString()!, CultureInfo.InvariantCulture), Shown(row[3]));
            Assert.Equal(quota.GetProperty("source").GetString(), row[4]);
        }

        string StateOf(long id) => shown.Single(r => r[0] == id.ToString(CultureInfo.InvariantCulture))[5];
        Assert.Equal($"crossed at 4,321 in the period from {ConsoleSite.OpenPeriod:yyyy-MM-dd}", StateOf(ids[0]));
        Assert.Equal("not crossed", StateOf(ids[1]));
        var alertRow = Assert.Single(await CellsAsync(browser, "#alert-table tbody tr"));
        Assert.Equal(alert.GetProperty("quota_id").GetInt64().ToString(CultureInfo.InvariantCulture), alertRow[1]);
        Assert.Equal(["1,000", "950", "4,321"], alertRow[3..6]);
        Assert.Equal(alert.GetProperty("delivered_kafka_at").GetString(), alertRow[6]);
        Assert.Equal("—", alertRow[7]);

        // The alerts are the account's own: a token bound to another account is refused.
        using var foreign = site.Client(ApiTestHost.Token("billing:read", account: "acct-c"));
        Assert.Equal(HttpStatusCode.Forbidden, (await foreign.GetAsync("/v1/accounts/acct-u/alerts")).StatusCode);
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("usage-quotas"));
    }

    [Fact]
    public async Task Price_book_page_previews_a_rerate_of_a_closed_period_under_a_draft_as_the_apis_line_level_difference()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        var admin = ApiTestHost.Token("admin");
        using var api = site.Client(admin);
        using (var close = await api.PostAsync("/v1/periods/2026-11/close", null))
        {
            Assert.True(close.IsSuccessStatusCode, await close.Content.ReadAsStringAsync());
        }

        // The draft doubles the request price: the API's preview is the reference the page must show line by line.
        var draft = ConsoleSite.ListJson.Replace("\"unit\": \"request\", \"unit_price\": \"0.01\"", "\"unit\": \"request\", \"unit_price\": \"0.02\"", StringComparison.Ordinal);
        Assert.NotEqual(ConsoleSite.ListJson, draft);
        using var preview = await api.PostAsync("/v1/periods/2026-11/rerate", new StringContent($$"""{ "price_book": {{draft}} }""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(preview.IsSuccessStatusCode, await preview.Content.ReadAsStringAsync());
        var expected = await ApiTestHost.Json(preview);
        var lines = expected.GetProperty("accounts").EnumerateArray().SelectMany(a => a.GetProperty("lines").EnumerateArray().Select(l => new[] {
            a.GetProperty("account").GetString()!, l.GetProperty("subject").GetString()!, l.GetProperty("before").GetString() ?? "", l.GetProperty("after").GetString() ?? "",
            l.GetProperty("amount").GetString()!, l.GetProperty("currency").GetString()! })).ToList();
        Assert.Contains(lines, l => l[0] == "acct-d" && l[1] == "usage requests");

        await using var browser = await HeadlessChromium.StartAsync();
        await SignInAsync(browser, site, admin);
        await OpenAsync(browser, "#/pricebooks", "pricebooks");

        // Starting from a published version fills the draft with that version's document.
        await browser.EvaluateAsync("(() => { const s = document.getElementById('f-start'); s.value = 'list/v1'; s.dispatchEvent(new Event('change')); })()");
        await browser.WaitForAsync("document.getElementById('f-draft').value.length > 0");
        var published = await GetJsonAsync(api, "/v1/pricebooks/list/versions/v1");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(published.GetProperty("document").GetRawText()),
            System.Text.Json.Nodes.JsonNode.Parse((await browser.EvaluateAsync("document.getElementById('f-draft').value")).GetString()!)), "the draft is the published version's document");

        await browser.EvaluateAsync($"document.getElementById('f-draft').value = {JsonSerializer.Serialize(draft)}");
        await browser.TypeAsync("#f-rerate-period", "2026-11");
        await browser.EvaluateAsync("document.getElementById('rerate-form').requestSubmit()");
        await browser.WaitForAsync("document.getElementById('rerate-lines')");
        static string Plain(string s) => s.Replace(",", "", StringComparison.Ordinal);
        Assert.Equal(lines, (await CellsAsync(browser, "#rerate-lines tbody tr")).Select(c => new[] { c[0], c[1], Plain(c[2]), Plain(c[3]), Plain(c[4]), c[5] }));
        Assert.Equal(expected.GetProperty("totals").EnumerateArray().Select(t => new[] { t.GetProperty("currency").GetString()!, t.GetProperty("amount").GetString()! }),
            (await CellsAsync(browser, "#rerate-totals tbody tr")).Select(c => new[] { c[0], Plain(c[1]) }));
        Assert.Contains($"{expected.GetProperty("accounts_compared").GetInt32()} account(s) compared", await TextAsync(browser, "#rerate-summary"), StringComparison.Ordinal);

        // Nothing was booked: the preview wrote no adjustment.
        await using (var cmd = site.Db.CreateCommand("SELECT count(*) FROM adjustments"))
        {
            Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
        }

        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("pricebooks-rerate"));
    }

    [Fact]
    public async Task An_account_bound_token_sees_only_its_own_account_whatever_the_address_asks_for()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        await using var browser = await HeadlessChromium.StartAsync();
        var token = ApiTestHost.Token("billing:read usage:read", account: "acct-c");
        await SignInAsync(browser, site, token);
        Assert.Contains("account acct-c", await TextAsync(browser, "[data-testid=who]"), StringComparison.Ordinal);

        await OpenAsync(browser, "#/statements?account=acct-d&period=2026-11", "statements");
        Assert.Equal("acct-c", (await browser.EvaluateAsync("document.getElementById('f-account').value")).GetString());
        Assert.True((await browser.EvaluateAsync("document.getElementById('f-account').readOnly")).GetBoolean());
        Assert.StartsWith("acct-c, ", await TextAsync(browser, "#st-h"), StringComparison.Ordinal);
        Assert.DoesNotContain("acct-d", await TextAsync(browser, "#main"), StringComparison.Ordinal);

        await OpenAsync(browser, "#/usage?account=acct-d&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=hour", "usage");
        Assert.Equal("acct-c", (await browser.EvaluateAsync("document.getElementById('f-account').value")).GetString());
        Assert.DoesNotContain("acct-d", await TextAsync(browser, "#main"), StringComparison.Ordinal);

        // The page only mirrors the API's rule: the token itself is refused for acct-d.
        using var api = site.Client(token);
        using var foreign = await api.GetAsync("/v1/accounts/acct-d/statements/2026-11");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Empty(browser.PageErrors);
    }

    [Fact]
    public async Task The_dev_token_of_the_main_job_opens_the_console_through_its_link_without_leaving_the_token_in_the_address()
    {
        // What scripts/run.sh does at its end: a key file and a token from scripts/console-token.sh, a serve that
        // checks tokens against that file, and a link carrying the token in the URL fragment (never sent to a server).
        var dir = Path.Combine(Path.GetTempPath(), "metering-console-token-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var keyFile = Path.Combine(dir, "jwt.key");
            var token = await DevTokenAsync(keyFile, "billing:read usage:read");
            var text = (await File.ReadAllTextAsync(keyFile)).Trim();
            Assert.StartsWith("base64:", text, StringComparison.Ordinal);
            await using var site = await ConsoleSite.StartAsync(postgres, Convert.FromBase64String(text["base64:".Length..]), "metering-dev", "metering-api");
            await using var browser = await HeadlessChromium.StartAsync();
            await browser.NavigateAsync($"{site.Url}/console/#/statements?account=acct-c&period=2026-11&token={token}");
            await browser.WaitForAsync("document.getElementById('main').dataset.page === 'statements' && document.getElementById('main').dataset.state === 'ready'");
            Assert.Equal("#/statements?account=acct-c&period=2026-11", (await browser.EvaluateAsync("location.hash")).GetString());
            Assert.Equal(token, (await browser.EvaluateAsync("sessionStorage.getItem('metering.console.token')")).GetString());
            using var api = site.Client(token);
            var s = await GetJsonAsync(api, "/v1/accounts/acct-c/statements/2026-11");
            Assert.Equal(s.GetProperty("totals")[0].GetProperty("total").GetString(), (await CellsAsync(browser, "#totals tbody tr")).Single()[5].Replace(",", "", StringComparison.Ordinal));
            Assert.Empty(browser.PageErrors);

            // A second token from the same key file, bound to one account: the key is kept, the claim is honoured.
            var bound = await DevTokenAsync(keyFile, "billing:read", account: "acct-d");
            Assert.Equal(text, (await File.ReadAllTextAsync(keyFile)).Trim());
            using var boundApi = site.Client(bound);
            using var own = await boundApi.GetAsync("/v1/accounts/acct-d/statements/2026-11");
            using var foreign = await boundApi.GetAsync("/v1/accounts/acct-c/statements/2026-11");
            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Forbidden), (own.StatusCode, foreign.StatusCode));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<string> DevTokenAsync(string keyFile, string scopes, string account = "")
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Metering.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new InvalidOperationException("no Metering.sln above the test output");
        }

        var start = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(root, "scripts", "console-token.sh"), keyFile, "metering-dev", "metering-api", scopes, "1", account })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"console-token.sh exit {process.ExitCode}: {await error}");
        return (await output).Trim();
    }
}
