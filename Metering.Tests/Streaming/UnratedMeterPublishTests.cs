using System.Net;
using System.Text;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// latest and unique_count are defined and validated (docs/meters.md) but the engine does not rate them yet: a book with
/// one is refused wherever it would be rated, naming the meter's path, so it never bills a sum it does not say. The
/// meters the engine rates (count, max, min, time_weighted, percentile) publish.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class UnratedMeterPublishTests(PostgresFixture postgres)
{
    private const string Book = """
        { "id": "peaks", "currency": "USD", "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z",
          "prices": { "seats.current": { "model": "per_unit", "unit": "seat", "unit_price": "8.00", "meter": { "aggregation": "latest" } } } } ] }
        """;

    [Fact]
    public async Task A_book_with_a_meter_the_engine_does_not_rate_is_refused_by_the_registry_and_the_api_with_the_meters_path_and_one_it_rates_publishes_but_may_not_change_in_a_later_version()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var bytes = Encoding.UTF8.GetBytes(Book);

        var e = await Assert.ThrowsAsync<PriceBookRegistryException>(() =>
            PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(bytes, "peaks.json"), bytes, "peaks.json", CancellationToken.None));
        Assert.Contains("$.versions[0].prices[\"seats.current\"].meter", e.Message, StringComparison.Ordinal);
        Assert.Contains("meter 'latest'", e.Message, StringComparison.Ordinal);

        await using var api = await ApiTestHost.StartOnAsync(cs);
        using var put = await api.Client(ApiTestHost.Token("pricebooks:write")).PutAsync("/v1/pricebooks/peaks/versions/v1", new StringContent(Book, Encoding.UTF8, "application/json"));
        Assert.NotEqual(HttpStatusCode.Created, put.StatusCode);
        Assert.Contains("seats.current", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await using var count = db.CreateCommand("SELECT count(*) FROM price_book_versions");
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);

        // A max meter is rated by the engine: the same book with it publishes.
        var peaks = Encoding.UTF8.GetBytes(Book.Replace("\"latest\"", "\"max\"", StringComparison.Ordinal));
        var published = await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(peaks, "peaks.json"), peaks, "peaks.json", CancellationToken.None);
        Assert.Single(published);
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);

        // A later version may not meter the SKU otherwise (its period's state carries across the change): refused by
        // the registry and the API, naming both meters; nothing published.
        const string December = """
            { "id": "peaks", "currency": "USD", "versions": [ { "version": "v2", "effective_from": "2026-12-01T00:00:00Z",
              "prices": { "seats.current": { "model": "per_unit", "unit": "seat", "unit_price": "9.00" } } } ] }
            """;
        var dec = Encoding.UTF8.GetBytes(December);
        var changed = await Assert.ThrowsAsync<PriceBookRegistryException>(() =>
            PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(dec, "dec.json"), dec, "dec.json", CancellationToken.None));
        Assert.Contains("the meter of 'seats.current' changes from {\"aggregation\":\"max\"} in the published version 'v1'", changed.Message, StringComparison.Ordinal);
        using var putDecember = await api.Client(ApiTestHost.Token("pricebooks:write")).PutAsync("/v1/pricebooks/peaks/versions/v2", new StringContent(December, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, putDecember.StatusCode);
        Assert.Contains("changes from", await putDecember.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
    }
}
