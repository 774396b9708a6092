using BenchmarkDotNet.Attributes;
using Metering.Rating.Incremental;
using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.Benchmarks.Rating;

/// <summary>
/// Incremental window ratings per second on one core, graduated tiers with 5 tiers: the compiled
/// <see cref="SkuPrice"/> + <see cref="WindowRater"/> against a naive rater that walks a list of tier records
/// with LINQ on every window (the baseline, same run). Per rating (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class WindowRatingBenchmarks
{
    private const int Windows = 100_000;
    private readonly decimal[] _quantities = new decimal[Windows];
    private SkuPrice _price = null!;
    private List<PriceTier> _tiers = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tiers =
        [
            new PriceTier(1_000, 0.08m, 0), new PriceTier(10_000, 0.06m, 1.5m), new PriceTier(100_000, 0.04m, 0),
            new PriceTier(1_000_000, 0.03m, 0), new PriceTier(null, 0.02m, 10m),
        ];
        _price = new SkuPrice("egress", PricingModel.Graduated, "GB", tiers: _tiers);
        var random = new Random(11);
        for (var i = 0; i < Windows; i++)
        {
            // Window usage in GB with 3 decimals; a period of 100k windows crosses every tier.
            _quantities[i] = random.Next(0, 40_000) / 1000m;
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Windows)]
    public decimal Naive_list_and_linq()
    {
        decimal cumulative = 0, charged = 0, sum = 0;
        foreach (var q in _quantities)
        {
            cumulative += q;
            var total = Math.Round(NaiveGraduated(cumulative), 2, MidpointRounding.AwayFromZero);
            sum += total - charged;
            charged = total;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Windows)]
    public decimal Compiled_window_rater()
    {
        var state = default(PeriodRatingState);
        decimal sum = 0;
        foreach (var q in _quantities)
        {
            sum += WindowRater.RateWindow(_price, ref state, q, 1, 2, RoundingMode.HalfUp);
        }

        return sum;
    }

    private decimal NaiveGraduated(decimal q)
    {
        var bounds = _tiers.Select((t, i) => (Lower: i == 0 ? 0 : _tiers[i - 1].UpTo!.Value, Upper: t.UpTo ?? decimal.MaxValue, Tier: t)).ToList();
        return bounds.Where(b => q > b.Lower).Sum(b => ((Math.Min(q, b.Upper) - b.Lower) * b.Tier.UnitPrice) + b.Tier.FlatFee);
    }
}
