using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Accounts;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Rating.Accounts;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.UnitTests.Decoding;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Metering.Tests.Accounts;

/// <summary>
/// The unknown-account policy over the real parts: PostgreSQL's accounts (and its NOTIFY), the account directory, the
/// HTTP edge on Kestrel producing into a Kafka mock cluster, and the streaming engine flushing into the ledger.
/// Reject: the edge's receipt and the engine's dead letter agree for the same bytes, and an account created through
/// <c>PUT /v1/accounts</c> is admitted once the directories reloaded. Auto: the first flush creates the row on the
/// list book with its audit entry; later flushes write nothing more.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class UnknownAccountPolicyTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // The documented bound of the directory (docs/api.md#accounts): the poll interval plus a reload; the reload of a
    // handful of ids takes milliseconds, the margin is for a loaded test machine.
    private static readonly TimeSpan DirectoryBound = AccountDirectory.DefaultPollInterval + TimeSpan.FromSeconds(5);

    private static readonly string Now = DateTime.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static byte[] Record(string id, string account, string time) =>
        Encoding.UTF8.GetBytes($$"""{"id":"{{id}}","account":"{{account}}","sku":"api.requests","quantity":"2","time":"{{time}}"}""");

    private static PriceCatalog Prices()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");
        var list = PriceBookLoader.LoadFile(Path.Combine(dir, "list.json"));
        return new PriceCatalog(list, [PriceBookLoader.LoadFile(Path.Combine(dir, "contract-acct-1.json"), list)]);
    }

    private async Task<(NpgsqlDataSource Db, string Topic)> LedgerAsync(string topic)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, 2, 1);
        return (NpgsqlDataSource.Create(connectionString), topic);
    }

    private void Produce(string topic, params byte[][] records)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, Acks = Acks.All }).Build();
        foreach (var r in records)
        {
            producer.Produce(topic, new Message<string, byte[]> { Key = "raw", Value = r });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static async Task<JsonElement> PostAsync(HttpClient http, byte[] record)
    {
        using var content = new ByteArrayContent(record);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await http.PostAsync("/v1/events", content);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("receipts")[0].Clone();
    }

    private static async Task<Dictionary<string, (string Reason, string Detail)>> DeadLettersAsync(NpgsqlDataSource db)
    {
        var letters = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        await using var cmd = db.CreateCommand("SELECT raw, reason, detail FROM dead_letters");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            letters[Encoding.UTF8.GetString((byte[])reader[0])] = (reader.GetString(1), reader.GetString(2));
        }

        return letters;
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected, Task run)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(50);
        }

        Assert.Equal(expected, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }

    private static StreamingOptions EngineOptions(string bootstrap, string topic, UnknownAccountPolicy policy, IAccountDirectory? accounts, TimeProvider? clock = null) => new()
    {
        BootstrapServers = bootstrap, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "", Accounts = accounts,
        Pipeline = new AggregationPipelineOptions { UnknownAccounts = policy, Decoder = clock is null ? new DecoderOptions() : new DecoderOptions { Clock = clock } },
    };

    [Fact]
    public async Task Under_reject_an_unknown_account_gets_the_same_verdict_at_the_edge_and_in_the_engine_until_it_is_created_through_the_api()
    {
        var (db, topic) = await LedgerAsync("unknown-account-reject");
        await using var _ = db;
        // Two directories on one database, as the edge (serve) and the engine (stream) are two processes.
        await using var edgeAccounts = await AccountDirectory.StartAsync(db, null, null, CancellationToken.None);
        await using var engineAccounts = await AccountDirectory.StartAsync(db, null, null, CancellationToken.None, AccountDirectory.EngineConfirmsPerSecond);
        using var service = new HttpIngestService(new HttpIngestOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = topic, UnknownAccounts = UnknownAccountPolicy.Reject, Accounts = edgeAccounts,
        });
        var apiOptions = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, HttpIngest = service };
        await using var app = ApiHost.Build(apiOptions, db, new InMemoryUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("admin"));

        var options = EngineOptions(_kafka.BootstrapServers, topic, UnknownAccountPolicy.Reject, engineAccounts);
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => new StreamingEngine(options, db, null).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        // Before the account exists: the edge refuses with a receipt, and the same bytes sent around the edge are
        // dead-lettered by the engine for the same reason.
        var stranger = Record("s-1", "stranger", Now);
        var refused = await PostAsync(http, stranger);
        Assert.Equal("rejected", refused.GetProperty("status").GetString());
        Assert.Equal("unknown_account", refused.GetProperty("reason").GetString());
        Assert.Contains("'stranger'", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("PUT /v1/accounts/stranger", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Produce(topic, stranger);
        await WaitCommittedAsync(db, options, 1, run);
        var letter = (await DeadLettersAsync(db))[Encoding.UTF8.GetString(stranger)];
        Assert.Equal("unknown_account", letter.Reason);
        Assert.Equal(refused.GetProperty("detail").GetString(), letter.Detail);

        // Created through the API: both directories reload on its NOTIFY (or their poll) and the account is admitted,
        // at the edge (accepted and produced) and in the engine, which started before the account existed.
        using (var put = await http.PutAsJsonAsync("/v1/accounts/stranger", new { currency = "USD", list_book = "edge-list", start = "2026-11-01T00:00:00Z", reason = "signed up" }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var deadline = DateTime.UtcNow + DirectoryBound;
        string? status = null;
        var attempt = 0;
        while (DateTime.UtcNow < deadline && status != "accepted")
        {
            var receipt = await PostAsync(http, Record("s-2-" + attempt++, "stranger", Now));
            status = receipt.GetProperty("status").GetString();
            Assert.True(status == "accepted" || receipt.GetProperty("reason").GetString() == "unknown_account", receipt.ToString());
            if (status != "accepted")
            {
                await Task.Delay(50);
            }
        }

        Assert.Equal("accepted", status);
        while (DateTime.UtcNow < deadline && !engineAccounts.Contains("stranger"))
        {
            await Task.Delay(50);
        }

        Assert.True(engineAccounts.Contains("stranger"), $"the engine's directory did not see the account within {DirectoryBound}");
        Produce(topic, Record("s-3", "stranger", Now));
        // The refused attempts were never produced: 1 dead letter + the accepted one + s-3.
        await WaitCommittedAsync(db, options, 3, run);
        await stop.CancelAsync();
        await run;

        Assert.Single(await DeadLettersAsync(db));
        Assert.Equal(4m, await ScalarAsync(db, "SELECT sum(quantity) FROM billing_period_totals WHERE account = 'stranger'"));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    [Fact]
    public async Task Under_auto_the_first_flush_creates_the_account_on_the_list_book_with_its_audit_entry_and_later_flushes_create_nothing()
    {
        var (db, topic) = await LedgerAsync("unknown-account-auto");
        await using var _ = db;
        var prices = Prices();
        var list = prices.List!;
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        // An account created by an operator before its first usage keeps its terms.
        await AccountStore.SetAsync(db, new AccountTerms("acct-known", Rating.Money.Currency.Get("EUR"), "edge-list", null,
            new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), null, null, null), "test", "signed before use", CancellationToken.None);
        await using var accounts = await AccountDirectory.StartAsync(db, null, null, CancellationToken.None);
        var options = EngineOptions(_kafka.BootstrapServers, topic, UnknownAccountPolicy.Auto, accounts, new MovableClock(now));
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => new StreamingEngine(options, db, prices).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        static string At(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Produce(topic,
            Record("a-1", "acct-new", At(now.AddMinutes(-3))), Record("a-2", "acct-new", At(now.AddMinutes(-30))),
            Record("c-1", "acct-1", At(now.AddMinutes(-2))), Record("k-1", "acct-known", At(now.AddMinutes(-2))));
        await WaitCommittedAsync(db, options, 4, run);

        var created = await AccountStore.GetAsync(db, "acct-new", CancellationToken.None);
        Assert.NotNull(created);
        Assert.Equal(list.Currency, created.Terms.Currency);
        Assert.Equal(list.Id, created.Terms.ListBook);
        Assert.Null(created.Terms.ContractBook);
        // Subscribed from the start of the list book's period of its first window: what billing without a row meant.
        Assert.Equal(list.Periods.PeriodOf(now.AddMinutes(-30)).Start, created.Terms.Start);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), created.Terms.Start);
        var audit = Assert.Single(await AccountStore.ChangesAsync(db, "acct-new", CancellationToken.None));
        Assert.Equal(("created", "engine", "created by first usage"), (audit.Change, audit.Actor, audit.Reason));
        Assert.Null(audit.Previous);
        Assert.Equal("acct-1-enterprise", (await AccountStore.GetAsync(db, "acct-1", CancellationToken.None))!.Terms.ContractBook);
        var known = (await AccountStore.GetAsync(db, "acct-known", CancellationToken.None))!;
        Assert.Equal("EUR", known.Terms.Currency.Code);
        Assert.Single(await AccountStore.ChangesAsync(db, "acct-known", CancellationToken.None));
        var changes = await ScalarAsync(db, "SELECT count(*) FROM account_changes");
        Assert.Equal(3, changes);

        // A second flush books the same accounts again and a third one later: no row, no audit entry more.
        Produce(topic, Record("a-3", "acct-new", At(now.AddMinutes(-1))), Record("c-2", "acct-1", At(now.AddMinutes(-1))));
        await WaitCommittedAsync(db, options, 6, run);
        Produce(topic, Record("a-4", "acct-new", At(now.AddMinutes(-1))), Record("k-2", "acct-known", At(now.AddMinutes(-1))));
        await WaitCommittedAsync(db, options, 8, run);
        await stop.CancelAsync();
        await run;

        Assert.Equal(changes, await ScalarAsync(db, "SELECT count(*) FROM account_changes"));
        Assert.Equal(3, await ScalarAsync(db, "SELECT count(*) FROM accounts"));
        Assert.Equal(8m, await ScalarAsync(db, "SELECT sum(quantity) FROM billing_period_totals WHERE account = 'acct-new'"));
        Assert.Empty(await DeadLettersAsync(db));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    [Fact]
    public async Task Under_auto_without_a_list_book_no_account_row_is_created_and_the_usage_is_booked_unpriced()
    {
        var (db, topic) = await LedgerAsync("unknown-account-no-book");
        await using var _ = db;
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        var options = EngineOptions(_kafka.BootstrapServers, topic, UnknownAccountPolicy.Auto, null, new MovableClock(now));
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => new StreamingEngine(options, db, null).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        Produce(topic, Record("a-1", "acct-new", "2026-11-24T11:58:00Z"));
        await WaitCommittedAsync(db, options, 1, run);
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, await ScalarAsync(db, "SELECT count(*) FROM accounts"));
        Assert.Equal(2m, await ScalarAsync(db, "SELECT sum(quantity) FROM billing_period_totals WHERE account = 'acct-new'"));

        // Billed without a row, the account cannot be given a period rule of its own afterwards (migration 0012),
        // only the list book's.
        AccountTerms Terms(string? timeZone) => new("acct-new", Rating.Money.Currency.Get("USD"), "edge-list", null, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), null, null, timeZone);
        await Assert.ThrowsAsync<PeriodRuleInUseException>(() => AccountStore.SetAsync(db, Terms("Asia/Tokyo"), "test", null, CancellationToken.None));
        Assert.Null(await AccountStore.GetAsync(db, "acct-new", CancellationToken.None));
        Assert.Equal(AccountWriteStatus.Created, (await AccountStore.SetAsync(db, Terms(null), "test", null, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Under_auto_a_list_book_whose_id_the_accounts_table_cannot_store_creates_nothing_and_fails_no_flush()
    {
        var (db, topic) = await LedgerAsync("unknown-account-bad-book-id");
        await using var _ = db;
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json")).Replace("\"id\": \"edge-list\"", "\"id\": \"Edge List\"", StringComparison.Ordinal);
        var prices = new PriceCatalog(PriceBookLoader.Load(Encoding.UTF8.GetBytes(text), "list.json"), []);
        Assert.Equal("Edge List", prices.List!.Id);
        Assert.NotNull(FirstUsageAccounts.CannotCreate(prices));
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        var options = EngineOptions(_kafka.BootstrapServers, topic, UnknownAccountPolicy.Auto, null, new MovableClock(now));
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => new StreamingEngine(options, db, prices).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        Produce(topic, Record("a-1", "acct-new", "2026-11-24T11:58:00Z"));
        await WaitCommittedAsync(db, options, 1, run);
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, await ScalarAsync(db, "SELECT count(*) FROM accounts"));
        Assert.Empty(await DeadLettersAsync(db));
        Assert.Equal(2m, await ScalarAsync(db, "SELECT sum(quantity) FROM billing_period_totals WHERE account = 'acct-new'"));
    }

    [Fact]
    public async Task The_directory_sees_an_account_written_around_the_store_by_its_notify_and_keeps_its_version_while_nothing_changes()
    {
        var (db, _) = await LedgerAsync("unknown-account-directory");
        await using var __ = db;
        await using var accounts = await AccountDirectory.StartAsync(db, TimeSpan.FromMinutes(10), null, CancellationToken.None);
        var version = accounts.Version;
        Assert.False(accounts.Contains("psql-made"));
        // The poll interval is ten minutes: only the NOTIFY of the trigger can make this visible within the test.
        await ScalarAsync(db, "WITH i AS (INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ('psql-made', 'USD', 'edge-list', now()) RETURNING 1) SELECT count(*) FROM i");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !accounts.Contains("psql-made"))
        {
            await Task.Delay(20);
        }

        Assert.True(accounts.Contains("psql-made"));
        Assert.True(accounts.Listening);
        Assert.NotEqual(version, accounts.Version);
        version = accounts.Version;
        // An update does not change the set: no new version, so admission keeps its cached answers.
        await ScalarAsync(db, "WITH u AS (UPDATE accounts SET currency = 'EUR' RETURNING 1) SELECT count(*) FROM u");
        await ScalarAsync(db, "SELECT 1");
        Assert.Equal(version, accounts.Version);
        Assert.Equal(1, accounts.Count);
    }

    [Fact]
    public async Task The_engine_directory_looks_a_miss_up_in_postgresql_so_an_account_the_edge_admitted_before_the_engine_reloaded_is_not_refused()
    {
        var (db, _) = await LedgerAsync("unknown-account-confirm");
        await using var __ = db;
        // No notification and a ten-minute poll: neither directory reloads during the test.
        await using (var disable = db.CreateCommand("ALTER TABLE accounts DISABLE TRIGGER accounts_changed_rows"))
        {
            await disable.ExecuteNonQueryAsync();
        }

        await using var engine = await AccountDirectory.StartAsync(db, TimeSpan.FromMinutes(10), null, CancellationToken.None, AccountDirectory.EngineConfirmsPerSecond);
        await using var edge = await AccountDirectory.StartAsync(db, TimeSpan.FromMinutes(10), null, CancellationToken.None);
        await AccountStore.SetAsync(db, new AccountTerms("just-created", Rating.Money.Currency.Get("USD"), "edge-list", null,
            new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), null, null, null), "test", null, CancellationToken.None);

        Assert.False(edge.Contains("just-created")); // the snapshot alone: stale until its next reload
        Assert.True(engine.Contains("just-created"));
        Assert.True(engine.Contains("just-created")); // remembered: one lookup
        Assert.False(engine.Contains("never-created"));
        Assert.Equal(2, engine.Confirms);
        Assert.Equal(0, edge.Confirms);
    }
}
