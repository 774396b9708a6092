using System.Diagnostics;
using System.Globalization;
using System.Text;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace Metering.Tests.PriceBooks;

/// <summary>
/// Measures how long a running <see cref="PriceCatalogSource"/> takes to rate with a newly published version: from
/// the publish's commit to the swapped catalog, over NOTIFY alone (the poll is an hour away). Prints p50/p99/max;
/// asserts only that every version arrives, never a speed (the machine is shared).
/// Run: dotnet test Metering.Tests -c Release --filter RegistryNotifyMeasurement --logger "console;verbosity=detailed"
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RegistryNotifyMeasurement(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Publish_to_a_running_source_over_notify_for_100_versions()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await PublishAsync(db, "v0", start);
        await using var source = await PriceCatalogSource.OpenAsync(db, PriceBookRegistryTests.Book, TimeSpan.FromHours(1), null, CancellationToken.None);
        var delays = new List<double>();
        for (var i = 1; i <= 100; i++)
        {
            await PublishAsync(db, "v" + i.ToString(CultureInfo.InvariantCulture), start.AddDays(i));
            var clock = Stopwatch.StartNew();
            while (source.Current!.List!.Versions.Count <= i && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(1);
            }

            delays.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Equal(i + 1, source.Current!.List!.Versions.Count);
        }

        delays.Sort();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"publish -> running catalog over NOTIFY, {delays.Count} versions: p50 {delays[delays.Count / 2]:F1} ms, p99 {delays[(int)(delays.Count * 0.99) - 1]:F1} ms, max {delays[^1]:F1} ms"));
    }

    private static async Task PublishAsync(NpgsqlDataSource db, string version, DateTimeOffset from)
    {
        var json = Encoding.UTF8.GetBytes(PriceBookRegistryTests.Json((version, from.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), null, "0.10")));
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(json, version), json, version, CancellationToken.None);
    }
}
