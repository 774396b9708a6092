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
/// The streaming engine rates every meter of docs/meters.md, so a book with any of them publishes through the registry
/// and the API (<see cref="PriceBookValidation.UnratedMeters"/> refuses none); a later version may still not meter a
/// SKU otherwise.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class UnratedMeterPublishTests(PostgresFixture postgres)
{
    // One SKU per meter: the example book holds every aggregation but sum.
    private static readonly string MetersBook = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "meters.json");

    [Fact]
    public async Task A_book_with_every_meter_publishes_through_the_registry_and_the_api()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var bytes = await File.ReadAllBytesAsync(MetersBook);
        var book = PriceBookLoader.Load(bytes, "meters.json");
        var aggregations = book.Versions.SelectMany(v => v.Prices.Values).Select(p => p.Meter.Aggregation).Distinct().Count();
        Assert.Equal(Enum.GetValues<Metering.Rating.Meters.MeterAggregation>().Length - 1, aggregations); // all but sum, which any other SKU has
        Assert.Empty(PriceBookValidation.UnratedMeters(book));

        await PriceBookRegistry.PublishFileAsync(db, book, bytes, "meters.json", CancellationToken.None);

        // The API takes the same book under another id.
        var text = Encoding.UTF8.GetString(bytes).Replace($"\"id\": \"{book.Id}\"", "\"id\": \"meters-api\"", StringComparison.Ordinal);
        Assert.Contains("\"meters-api\"", text, StringComparison.Ordinal);
        await using var api = await ApiTestHost.StartOnAsync(cs);
        using var put = await api.Client(ApiTestHost.Token("pricebooks:write")).PutAsync($"/v1/pricebooks/meters-api/versions/{book.Versions[0].Version}",
            new StringContent(text, Encoding.UTF8, "application/json"));
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());

        await using var count = db.CreateCommand("SELECT count(DISTINCT book_id) FROM price_book_versions");
        Assert.Equal(2L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_published_meter_may_not_change_in_a_later_version_through_the_registry_or_the_api()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        const string November = """
            { "id": "peaks", "currency": "USD", "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z",
              "prices": { "seats.current": { "model": "per_unit", "unit": "seat", "unit_price": "8.00", "meter": { "aggregation": "latest" } } } } ] }
            """;
        var nov = Encoding.UTF8.GetBytes(November);
        Assert.Single(await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(nov, "peaks.json"), nov, "peaks.json", CancellationToken.None));
        await using var count = db.CreateCommand("SELECT count(*) FROM price_book_versions");
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);

        // Its period's state carries across a version change: refused by the registry and the API, naming both meters.
        const string December = """
            { "id": "peaks", "currency": "USD", "versions": [ { "version": "v2", "effective_from": "2026-12-01T00:00:00Z",
              "prices": { "seats.current": { "model": "per_unit", "unit": "seat", "unit_price": "9.00" } } } ] }
            """;
        var dec = Encoding.UTF8.GetBytes(December);
        var changed = await Assert.ThrowsAsync<PriceBookRegistryException>(() =>
            PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(dec, "dec.json"), dec, "dec.json", CancellationToken.None));
        Assert.Contains("the meter of 'seats.current' changes from {\"aggregation\":\"latest\"} in the published version 'v1'", changed.Message, StringComparison.Ordinal);
        await using var api = await ApiTestHost.StartOnAsync(cs);
        using var putDecember = await api.Client(ApiTestHost.Token("pricebooks:write")).PutAsync("/v1/pricebooks/peaks/versions/v2", new StringContent(December, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, putDecember.StatusCode);
        Assert.Contains("changes from", await putDecember.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
    }
}
