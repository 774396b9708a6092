using System.Text;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.PriceBooks;

/// <summary>The price-book registry in PostgreSQL: publishing files and versions into it, and catalogs built from it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PriceBookRegistryTests(PostgresFixture postgres)
{
    internal const string Book = "reg-list";

    /// <summary>A list book of egress.gb per GB with the given versions: (name, from, to or null, unit price).</summary>
    internal static string Json(params (string Name, string From, string? To, string Price)[] versions)
    {
        var text = new StringBuilder("""{ "id": "reg-list", "currency": "USD", "billing_period": { "type": "monthly", "anchor_day": 1 }, "versions": [""");
        for (var i = 0; i < versions.Length; i++)
        {
            var (name, from, to, price) = versions[i];
            text.Append(i == 0 ? "" : ",").Append("{ \"version\": \"").Append(name).Append("\", \"effective_from\": \"").Append(from).Append('"')
                .Append(to is null ? "" : $", \"effective_to\": \"{to}\"")
                .Append(", \"prices\": { \"egress.gb\": { \"model\": \"per_unit\", \"unit\": \"GB\", \"unit_price\": \"").Append(price).Append("\" } } }");
        }

        return text.Append("] }").ToString();
    }

    private static async Task<IReadOnlyList<PublishOutcome>> PublishAsync(NpgsqlDataSource db, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        return await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(bytes, "test.json"), bytes, "test.json", CancellationToken.None);
    }

    private async Task<NpgsqlDataSource> DatabaseAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Publishing_a_file_again_is_a_no_op_and_the_catalog_is_built_from_the_registry()
    {
        await using var db = await DatabaseAsync();
        var json = Json(("sep", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "0.10"), ("oct", "2026-10-01T00:00:00Z", null, "0.20"));

        var first = await PublishAsync(db, json);
        var revision = (await PriceBookRegistry.LoadAsync(db, null, CancellationToken.None)).Revision;
        var again = await PublishAsync(db, json);

        Assert.All(first, o => Assert.Equal(PublishResult.Created, o.Result));
        Assert.All(again, o => Assert.Equal(PublishResult.Unchanged, o.Result));
        var snapshot = await PriceBookRegistry.LoadAsync(db, null, CancellationToken.None);
        Assert.Equal(revision, snapshot.Revision); // nothing written the second time
        var file = PriceBookLoader.Load(Encoding.UTF8.GetBytes(json), "file");
        Assert.Equal(file.Versions.Select(v => (v.Version, v.EffectiveFrom, v.EffectiveTo, v.Hash)),
            snapshot.Catalog!.List!.Versions.Select(v => (v.Version, v.EffectiveFrom, v.EffectiveTo, v.Hash)));
    }

    [Fact]
    public async Task A_version_after_the_open_ended_one_supersedes_it_from_its_instant_and_keeps_its_hash()
    {
        await using var db = await DatabaseAsync();
        var sep = (await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", null, "0.10"))))[0].Stored;

        // The file ends 'sep' where 'oct' starts: the same hash as the open-ended version published before.
        var outcomes = await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "0.10"), ("oct", "2026-10-01T00:00:00Z", null, "0.20")));

        Assert.Equal([("oct", PublishResult.Created, "sep"), ("sep", PublishResult.Unchanged, null)], outcomes.Select(o => (o.Stored.Version, o.Result, o.Superseded)));
        var stored = await new PriceBookStore(db).GetAsync(Book, "sep", CancellationToken.None);
        Assert.Equal(new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), stored!.EffectiveTo);
        Assert.Equal(sep.VersionHash, stored.VersionHash);
        var catalog = (await PriceBookRegistry.LoadAsync(db, Book, CancellationToken.None)).Catalog!;
        Assert.Equal("sep", catalog.Resolve("a", "egress.gb", new DateTimeOffset(2026, 9, 30, 0, 0, 0, TimeSpan.Zero)).Version!.Version);
        Assert.Equal("oct", catalog.Resolve("a", "egress.gb", new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero)).Version!.Version);
        Assert.Equal(sep.VersionHash, (await new PriceBookStore(db).GetByHashAsync(sep.VersionHash, CancellationToken.None))!.VersionHash);
    }

    [Fact]
    public async Task A_file_that_disagrees_with_the_registry_on_a_version_is_refused_naming_both_hashes_and_publishes_nothing()
    {
        await using var db = await DatabaseAsync();
        var published = (await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", null, "0.10"))))[0].Stored;
        var revision = (await PriceBookRegistry.LoadAsync(db, null, CancellationToken.None)).Revision;
        var edited = Json(("sep", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "0.11"), ("oct", "2026-10-01T00:00:00Z", null, "0.20"));
        var editedHash = PriceBookLoader.Load(Encoding.UTF8.GetBytes(edited), "f").Versions[0].Hash;

        var e = await Assert.ThrowsAsync<PriceBookRegistryException>(() => PublishAsync(db, edited));

        Assert.Contains("version 'sep'", e.Message, StringComparison.Ordinal);
        Assert.Contains(published.VersionHash, e.Message, StringComparison.Ordinal);
        Assert.Contains(editedHash, e.Message, StringComparison.Ordinal);
        Assert.Null(await new PriceBookStore(db).GetAsync(Book, "oct", CancellationToken.None)); // 'oct' rolled back with it
        Assert.Equal(revision, (await PriceBookRegistry.LoadAsync(db, null, CancellationToken.None)).Revision);
        Assert.Null((await new PriceBookStore(db).GetAsync(Book, "sep", CancellationToken.None))!.EffectiveTo);
    }

    [Fact]
    public async Task A_file_that_ends_a_published_version_elsewhere_than_the_registry_is_refused()
    {
        await using var db = await DatabaseAsync();
        await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z", "0.10"), ("oct", "2026-10-01T00:00:00Z", null, "0.20")));

        var e = await Assert.ThrowsAsync<PriceBookRegistryException>(() => PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", "2026-09-15T00:00:00Z", "0.10"))));

        Assert.Contains("ends it at 2026-09-15T00:00:00Z", e.Message, StringComparison.Ordinal);
        Assert.Contains("[2026-09-01T00:00:00Z, 2026-10-01T00:00:00Z)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_version_effective_where_usage_is_rated_otherwise_or_a_period_is_closed_is_refused()
    {
        await using var db = await DatabaseAsync();
        var sep = (await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", null, "0.10"))))[0].Stored;
        await ExecuteAsync(db, $"""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ('acct-a', 'egress.gb', '2026-09-01T00:00:00Z', '2026-10-01T00:00:00Z', 100, 1, 10, 'USD', '{Book}', 'sep', '{sep.VersionHash}')
            """);

        // Mid-September: September's total was rated by 'sep'; superseding it there would change rated usage.
        var rated = await Assert.ThrowsAsync<PriceBookRegistryException>(() => PublishAsync(db, Json(("mid", "2026-09-15T00:00:00Z", null, "0.20"))));
        Assert.Contains("already rated", rated.Message, StringComparison.Ordinal);
        Assert.Contains("acct-a/egress.gb", rated.Message, StringComparison.Ordinal);
        Assert.Contains(sep.VersionHash, rated.Message, StringComparison.Ordinal);
        Assert.Contains("at or after 2026-10-01T00:00:00Z", rated.Message, StringComparison.Ordinal);

        // October is closed (nothing rated in it): no version may take effect in it.
        await ExecuteAsync(db, "INSERT INTO closed_periods (period_start, period_end) VALUES ('2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z')");
        var closed = await Assert.ThrowsAsync<PriceBookRegistryException>(() => PublishAsync(db, Json(("oct", "2026-10-01T00:00:00Z", null, "0.20"))));
        Assert.Contains("closed period [2026-10-01T00:00:00Z, 2026-11-01T00:00:00Z)", closed.Message, StringComparison.Ordinal);

        // After them: superseded from its instant, and the rated September keeps its lineage.
        var nov = await PublishAsync(db, Json(("nov", "2026-11-01T00:00:00Z", null, "0.20")));
        Assert.Equal((PublishResult.Created, "sep"), (nov[0].Result, nov[0].Superseded));
        Assert.Equal(sep.VersionHash, (await new PriceBookStore(db).GetAsync(Book, "sep", CancellationToken.None))!.VersionHash);
    }

    [Fact]
    public async Task A_running_source_follows_a_publish_through_notify_without_polling()
    {
        await using var db = await DatabaseAsync();
        await PublishAsync(db, Json(("sep", "2026-09-01T00:00:00Z", null, "0.10")));
        await using var source = await PriceCatalogSource.OpenAsync(db, Book, TimeSpan.FromHours(1), null, CancellationToken.None);
        Assert.Equal(["sep"], source.Current!.List!.Versions.Select(v => v.Version));
        var held = source.Current; // what a flush in progress rates with

        await PublishAsync(db, Json(("oct", "2026-10-01T00:00:00Z", null, "0.20")));

        // The poll is an hour away: only the notification can bring the new version (the wait is a bound, not a speed check).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (source.Current!.List!.Versions.Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(["sep", "oct"], source.Current!.List!.Versions.Select(v => v.Version));
        Assert.Equal(["sep"], held!.List!.Versions.Select(v => v.Version)); // the snapshot taken before is unchanged
        Assert.Null(held.List.Versions[0].EffectiveTo);
    }
}
