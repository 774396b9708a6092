using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Corrections;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Npgsql;

namespace Metering.Tests.Statements;

/// <summary>
/// A price with <c>group_by</c> bills a usage line per dimension group (Lago's grouped charges): the real engine over
/// the Kafka mock keeps the grouped dimension without <c>--keep-dimensions</c>, the ledger keeps a total per group,
/// the final statement has a line per group rated on its own tiers, a correction names its event's group and cannot
/// take back more than its group recorded, and late usage of one group adjusts that group's line. Real PostgreSQL.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GroupedLinesTests(PostgresFixture postgres) : IDisposable
{
    private const string Eu = """{"region":"eu"}""";
    private const string Us = """{"region":"us"}""";
    private const string NoRegion = """{"region":""}""";

    /// <summary>Egress per region: 10 GB free per region, then 0.10 up to 100 GB, 0.05 beyond; requests ungrouped at 0.001.</summary>
    private static readonly PriceBook List = PriceBookLoader.Load("""
        {
          "id": "list", "currency": "USD", "rounding": "half_up",
          "versions": [ { "version": "v1", "effective_from": "2026-10-01T00:00:00Z",
            "prices": {
              "egress.gb": { "model": "graduated", "unit": "GB", "group_by": ["region"], "included_units": "10",
                "tiers": [ { "up_to": "100", "unit_price": "0.10" }, { "up_to": null, "unit_price": "0.05" } ] },
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.001" } } } ]
        }
        """u8, "list");

    private static readonly PriceCatalog Prices = new(List, []);
    private static readonly BillingPeriod Nov = new(StatementLedger.Nov, StatementLedger.Dec);
    private static readonly BillingPeriod Dec = new(StatementLedger.Dec, StatementLedger.Jan);

    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_grouped_price_bills_a_line_per_region_corrections_and_late_usage_change_only_their_groups_line()
    {
        var db = await StatementLedger.NewAsync(postgres);
        _kafka.CreateTopic("grouped", 2, 1);
        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = "grouped", FlushInterval = TimeSpan.FromMilliseconds(200),
            Pipeline = new AggregationPipelineOptions { DedupHorizon = TimeSpan.FromDays(60) }, // no --keep-dimensions: the price book's group_by is enough
        };
        await ProduceAndDrainAsync(db, options, 5,
            """{"id":"e1","account":"acct-1","sku":"egress.gb","quantity":"100","time":"2026-11-02T10:00:00Z","dimensions":{"region":"eu","colo":"fra"}}""",
            """{"id":"e2","account":"acct-1","sku":"egress.gb","quantity":"50","time":"2026-11-02T10:00:10Z","dimensions":{"region":"eu","colo":"ams"}}""",
            """{"id":"e3","account":"acct-1","sku":"egress.gb","quantity":"50","time":"2026-11-02T10:00:20Z","dimensions":{"region":"us"}}""",
            """{"id":"e4","account":"acct-1","sku":"egress.gb","quantity":"5","time":"2026-11-02T10:00:30Z"}""",
            """{"id":"e5","account":"acct-1","sku":"requests","quantity":"1000","time":"2026-11-02T10:00:40Z","dimensions":{"region":"eu"}}""");

        // A total per group (colo is not grouped by: it never splits), the ungrouped SKU keeps its one total.
        Assert.Equal([("egress.gb", NoRegion, 5m), ("egress.gb", Eu, 150m), ("egress.gb", Us, 50m), ("requests", "", 1000m)], await TotalsAsync(db));

        // An amend names its event's dimensions: it changes the eu line. A correction taking back more than us
        // recorded is refused, though the SKU as a whole recorded 205 GB.
        var now = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        var amend = await CorrectionStore.WriteAsync(db, Event(CorrectionKind.Amend, "k1", "e2", 50, 40, ("region", "eu"), ("colo", "ams")), List.Periods, now, CorrectionHorizon.Default,
            CancellationToken.None, Prices);
        Assert.Null(amend.Refusal);
        var tooMuch = await CorrectionStore.WriteAsync(db, Event(CorrectionKind.Amend, "k2", "e3", 60, 0, ("region", "us")),
            List.Periods, now, CorrectionHorizon.Default, CancellationToken.None, Prices);
        Assert.Equal("exceeds_recorded", tooMuch.Refusal?.Code);
        Assert.Contains(Us, tooMuch.Refusal!.Message, StringComparison.Ordinal);

        await PeriodCloser.CloseAsync(db, StatementLedger.Nov, CancellationToken.None, List.Periods, now: StatementLedger.Dec.AddDays(1), prices: Prices);
        var final = (await StatementQuery.GetAsync(db, Nov, List.Periods, Prices, "acct-1", CancellationToken.None))!;
        Assert.True(final.Final);
        // eu 140 GB (150, amended by -10): 130 billable = 100 x 0.10 + 30 x 0.05 = 11.50; us 40 billable at 0.10 = 4.00;
        // no region: 5 GB, inside its own 10 free; requests 1.00. One ungrouped line of 195 GB would be 185 billable: 14.25.
        Assert.Equal([("egress.gb", NoRegion, 5m, 0.00m), ("egress.gb", Eu, 140m, 11.50m), ("egress.gb", Us, 50m, 4.00m), ("requests", "", 1000m, 1.00m)],
            final.Statement.Usage.Select(u => (u.Sku, u.Group, u.RecordedQuantity, u.Amount)).ToList());
        Assert.Contains(final.Inputs.Totals, t => t.Group == Eu && t.Quantity == 150m);

        // Late November usage of us: an adjustment of the us line only, booked into December with its group.
        await ProduceAndDrainAsync(db, options, 6,
            """{"id":"e6","account":"acct-1","sku":"egress.gb","quantity":"20","time":"2026-11-25T10:00:00Z","dimensions":{"region":"us"}}""");
        var december = (await StatementQuery.GetAsync(db, Dec, List.Periods, Prices, "acct-1", CancellationToken.None))!;
        var late = Assert.Single(december.Statement.Adjustments);
        Assert.Equal((Rating.Statements.AdjustmentLine.LateUsage, Us, 20m, 2.00m), (late.Kind, late.Group, late.Quantity!.Value, late.Amount));
    }

    private static CorrectionRequest Event(CorrectionKind kind, string key, string eventId, decimal original, decimal updated, params (string Key, string Value)[] dimensions)
    {
        var input = new CorrectionInput("acct-1", CorrectionRequest.KindName(kind), key, eventId, "egress.gb", "2026-11-02T10:00:10Z",
            original.ToString(System.Globalization.CultureInfo.InvariantCulture), kind == CorrectionKind.Amend ? updated.ToString(System.Globalization.CultureInfo.InvariantCulture) : null,
            Reason: "test")
        {
            Dimensions = dimensions.ToDictionary(d => d.Key, d => d.Value),
        };
        var validation = CorrectionRequest.Validate(input, "test", _ => null);
        Assert.True(validation.IsValid, string.Join("; ", validation.Problems.Select(p => p.Key + ": " + string.Join(",", p.Value))));
        return validation.Request!;
    }

    private async Task ProduceAndDrainAsync(NpgsqlDataSource db, StreamingOptions options, long expectedRead, params string[] records)
    {
        var bytes = Encoding.UTF8.GetBytes(string.Join("\n", records) + "\n");
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(bytes), null, CancellationToken.None);
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, Prices), db, options, expectedRead, timeoutSeconds: 60);
        await using var dl = db.CreateCommand("SELECT string_agg(reason || ': ' || detail, ' | ') FROM dead_letters");
        Assert.Null(await dl.ExecuteScalarAsync() as string);
    }

    private static async Task<List<(string, string, decimal)>> TotalsAsync(NpgsqlDataSource db)
    {
        var rows = new List<(string, string, decimal)>();
        await using var cmd = db.CreateCommand("""SELECT sku, dimension_group, quantity FROM billing_period_totals ORDER BY sku, dimension_group COLLATE "C" """);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            rows.Add((r.GetString(0), r.GetString(1), r.GetDecimal(2)));
        }

        return rows;
    }
}
