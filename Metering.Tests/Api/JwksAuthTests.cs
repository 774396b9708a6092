using System.Net;
using System.Security.Cryptography;
using System.Text;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Metering.Tests.Api;

/// <summary>RS256/ES256 tokens verified against a JWKS document (file or URL, refreshed), beside the HS256 key.</summary>
[Collection(PostgresCollection.Name)]
public sealed class JwksAuthTests(PostgresFixture postgres)
{
    private static string RsaJwk(RSA rsa, string kid)
    {
        var p = rsa.ExportParameters(false);
        return $$"""{"kty":"RSA","use":"sig","kid":"{{kid}}","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}""";
    }

    private static string EcJwk(ECDsa ec, string kid)
    {
        var p = ec.ExportParameters(false);
        return $$"""{"kty":"EC","use":"sig","crv":"P-256","kid":"{{kid}}","x":"{{Base64UrlEncoder.Encode(p.Q.X)}}","y":"{{Base64UrlEncoder.Encode(p.Q.Y)}}"}""";
    }

    private static string Jwks(params string[] keys) => $$"""{"keys":[{{string.Join(",", keys)}}]}""";

    private static string Token(SigningCredentials credentials) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = ApiTestHost.Issuer,
        Audience = ApiTestHost.Audience,
        Claims = new Dictionary<string, object> { ["scope"] = "billing:read", ["sub"] = "oidc-user" },
        Expires = DateTime.UtcNow.AddMinutes(10),
        SigningCredentials = credentials,
    });

    private static string Rs256(RSA rsa, string kid) => Token(new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256));

    private static async Task<WebApplication> ApiAsync(PostgresFixture postgres, JwksKeySource jwks)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var options = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, Jwks = jwks };
        var app = ApiHost.Build(options, NpgsqlDataSource.Create(cs), new InMemoryUsageStore(), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return app;
    }

    private static async Task<HttpStatusCode> StatusWith(WebApplication app, string token)
    {
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await client.GetAsync("/v1/pricebooks");
        return response.StatusCode;
    }

    [Fact]
    public async Task Rs256_and_es256_tokens_of_a_jwks_file_key_pass_beside_hs256_and_foreign_or_confused_signatures_are_refused()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var stranger = RSA.Create(2048);
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, Jwks(RsaJwk(rsa, "r1"), EcJwk(ec, "e1")));
            await using var jwks = await JwksKeySource.StartAsync(file, TimeSpan.FromHours(1), TextWriter.Null, default);
            await using var app = await ApiAsync(postgres, jwks);

            Assert.Equal(HttpStatusCode.OK, await StatusWith(app, Rs256(rsa, "r1")));
            Assert.Equal(HttpStatusCode.OK, await StatusWith(app, Token(new SigningCredentials(new ECDsaSecurityKey(ec) { KeyId = "e1" }, SecurityAlgorithms.EcdsaSha256))));
            Assert.Equal(HttpStatusCode.OK, await StatusWith(app, ApiTestHost.Token("billing:read"))); // the HS256 key still works
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(app, Rs256(stranger, "r1"))); // right kid, wrong key
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(app, Rs256(stranger, "nobody")));
            // Algorithm confusion: HS256 with the RSA public key's bytes as the HMAC secret verifies against nothing.
            var publicBytes = Encoding.UTF8.GetBytes(RsaJwk(rsa, "r1"));
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(app, Token(new SigningCredentials(new SymmetricSecurityKey(publicBytes) { KeyId = "r1" }, SecurityAlgorithms.HmacSha256))));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_key_rotated_at_the_jwks_url_is_followed_after_a_refresh_the_retired_key_is_refused_and_an_unreachable_provider_keeps_the_last_keys()
    {
        using var r1 = RSA.Create(2048);
        using var r2 = RSA.Create(2048);
        var current = Jwks(RsaJwk(r1, "r1"));
        var provider = WebApplication.CreateSlimBuilder();
        provider.WebHost.UseUrls("http://127.0.0.1:0");
        await using var idp = provider.Build();
        idp.MapGet("/jwks", () => Results.Text(current, "application/json"));
        await idp.StartAsync();
        var url = idp.Urls.Single().TrimEnd('/') + "/jwks";

        var errors = new StringWriter();
        await using var jwks = await JwksKeySource.StartAsync(url, TimeSpan.FromHours(1), errors, default);
        await using var app = await ApiAsync(postgres, jwks);
        Assert.Equal(HttpStatusCode.OK, await StatusWith(app, Rs256(r1, "r1")));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(app, Rs256(r2, "r2")));

        current = Jwks(RsaJwk(r2, "r2"));
        Assert.True(await jwks.RefreshAsync(default));
        Assert.Equal(HttpStatusCode.OK, await StatusWith(app, Rs256(r2, "r2")));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusWith(app, Rs256(r1, "r1")));

        await idp.StopAsync();
        Assert.False(await jwks.RefreshAsync(default));
        Assert.Contains("keeping the 1 key(s) read before", errors.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await StatusWith(app, Rs256(r2, "r2")));
    }

    [Fact]
    public async Task A_jwks_that_cannot_be_read_or_holds_no_signing_key_is_refused_at_start_with_the_reason()
    {
        var missing = await Assert.ThrowsAsync<InvalidDataException>(() => JwksKeySource.StartAsync("/nonexistent/jwks.json", TimeSpan.FromMinutes(5), TextWriter.Null, default));
        Assert.Contains("cannot read the JWKS document", missing.Message, StringComparison.Ordinal);
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}""");
            var symmetric = await Assert.ThrowsAsync<InvalidDataException>(() => JwksKeySource.StartAsync(file, TimeSpan.FromMinutes(5), TextWriter.Null, default));
            Assert.Contains("holds no RSA or EC signing key", symmetric.Message, StringComparison.Ordinal);
            await File.WriteAllTextAsync(file, "not json");
            var garbage = await Assert.ThrowsAsync<InvalidDataException>(() => JwksKeySource.StartAsync(file, TimeSpan.FromMinutes(5), TextWriter.Null, default));
            Assert.Contains("not a JWKS document", garbage.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
