using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Metering.Web.Api;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Metering.Tests.Api;

/// <summary>The API on a TestServer (or real Kestrel on loopback) over a fresh, migrated PostgreSQL database.</summary>
public sealed class ApiTestHost : IAsyncDisposable
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "metering-api";

    public static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    private ApiTestHost(WebApplication app, NpgsqlDataSource db, InMemoryUsageStore store)
    {
        App = app;
        Db = db;
        Store = store;
    }

    public WebApplication App { get; }

    public NpgsqlDataSource Db { get; }

    public InMemoryUsageStore Store { get; }

    public static async Task<ApiTestHost> StartAsync(PostgresFixture postgres, Func<CancellationToken, Task<bool>>? kafka = null, bool kestrel = false, Metering.Rating.PriceBooks.PriceCatalog? prices = null,
        Func<NpgsqlDataSource, Metering.Redis.RedisLiveCounters>? liveCounters = null)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var db = NpgsqlDataSource.Create(cs);
        var store = new InMemoryUsageStore();
        var options = new ApiOptions { JwtIssuer = Issuer, JwtAudience = Audience, JwtSigningKey = Key, KafkaCheck = kafka, MaxPriceBookBytes = 64 * 1024, Prices = prices, LiveCounters = liveCounters?.Invoke(db) };
        var app = ApiHost.Build(options, db, store, b =>
        {
            if (kestrel)
            {
                b.WebHost.UseUrls("http://127.0.0.1:0");
            }
            else
            {
                b.WebHost.UseTestServer();
            }
        });
        await app.StartAsync();
        return new ApiTestHost(app, db, store);
    }

    /// <summary>The API on a TestServer over the existing, migrated database <paramref name="connectionString"/> (the price books: <paramref name="prices"/>'s).</summary>
    public static async Task<ApiTestHost> StartOnAsync(string connectionString, Metering.Ledger.PriceBooks.PriceCatalogSource? prices = null)
    {
        var db = NpgsqlDataSource.Create(connectionString);
        var store = new InMemoryUsageStore();
        var options = new ApiOptions { JwtIssuer = Issuer, JwtAudience = Audience, JwtSigningKey = Key, MaxPriceBookBytes = 64 * 1024, PriceSource = prices };
        var app = ApiHost.Build(options, db, store, b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return new ApiTestHost(app, db, store);
    }

    /// <summary>A client with <paramref name="token"/> as bearer (none when null).</summary>
    public HttpClient Client(string? token = null)
    {
        var client = App.GetTestClient();
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>A real HS256-signed JWT.</summary>
    public static string Token(string scopes, string? account = null, DateTime? expires = null, byte[]? key = null, string issuer = Issuer, string audience = Audience)
    {
        var now = DateTime.UtcNow;
        var exp = expires ?? now.AddMinutes(10);
        var claims = new Dictionary<string, object> { ["scope"] = scopes, ["sub"] = "test-client" };
        if (account is not null)
        {
            claims["account"] = account;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = exp.AddMinutes(-20),
            NotBefore = exp.AddMinutes(-20),
            Expires = exp,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key ?? Key), SecurityAlgorithms.HmacSha256),
        });
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Db.DisposeAsync();
    }
}
