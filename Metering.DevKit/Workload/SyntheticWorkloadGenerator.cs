using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Metering.Aggregates.Records;

namespace Metering.DevKit.Workload;

/// <summary>
/// Writes a deterministic synthetic edge workload as NDJSON usage records, and the <see cref="GroundTruth"/> it
/// must aggregate to. Accounts follow a Zipf-like skew (and optionally a size skew,
/// <see cref="WorkloadOptions.HeavyAccountScale"/>); eight SKUs with realistic quantity shapes (whole bytes,
/// single requests, milliseconds with 3 decimals, GB-seconds with 9); a share of exact repeats of recent records
/// (producer retries) and a share of bad records of every kind, each with its expected reject reason.
/// </summary>
public sealed class SyntheticWorkloadGenerator
{
    private static readonly string[] Skus =
    [
        "cdn.egress.bytes", "cdn.requests", "workers.cpu.ms", "r2.storage.gb_seconds",
        "dns.queries", "stream.minutes", "images.transforms", "ai.tokens",
    ];

    // Appended after the eight (so their indexes and shapes stay) when WorkloadOptions.MeteredSkus is on.
    private static readonly string[] MeteredSkus = ["gpu.peak", "db.floor", "workers.invocations", "r2.storage.mb", "transit.bytes", "seats.current", "regions.active"];

    private static readonly string[] Regions = ["eu", "us", "apac", "latam"];

    /// <summary>Reject reason of each bad-record kind, in rotation order (see <see cref="WriteBad"/>).</summary>
    private static readonly RejectReason[] BadKinds =
    [
        RejectReason.MalformedJson, RejectReason.NegativeQuantity, RejectReason.QuantityPrecision, RejectReason.InvalidTime,
        RejectReason.MissingField, RejectReason.InvalidUtf8, RejectReason.FutureTime, RejectReason.InvalidQuantity,
        RejectReason.InvalidIdentifier, RejectReason.TooManyDimensions, RejectReason.InvalidField, RejectReason.LineTooLong,
    ];

    private struct GoodRecord
    {
        public long Id;
        public int Account;
        public int Sku;
        public long Nanos;
        public long Ticks;
        public int Region;
        public bool QuantityAsString;
    }

    private readonly WorkloadOptions _options;
    private readonly double[] _accountCdf;
    private readonly string[] _skus;

    /// <summary>Creates a generator; throws naming the option that is out of range.</summary>
    public SyntheticWorkloadGenerator(WorkloadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Records, 0, "records");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Accounts, 1, "accounts");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rate, 1, "rate");
        if (options.HeavyAccountScale is < 1 or > 900)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"the heavy-account scale must be between 1 and 900, got {options.HeavyAccountScale}");
        }
        if (options.DuplicateShare is < 0 or > 0.5 || options.BadShare is < 0 or > 0.5)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "duplicate and bad shares must be between 0 and 0.5");
        }

        _options = options;
        _skus = options.MeteredSkus ? [.. Skus, .. MeteredSkus] : Skus;
        _accountCdf = new double[options.Accounts];
        double total = 0;
        for (var k = 0; k < options.Accounts; k++)
        {
            total += 1.0 / Math.Pow(k + 1, options.Skew);
            _accountCdf[k] = total;
        }

        for (var k = 0; k < options.Accounts; k++)
        {
            _accountCdf[k] /= total;
        }
    }

    /// <summary>Writes the workload to <paramref name="output"/> and returns its ground truth.</summary>
    public GroundTruth Generate(Stream output, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        // The generator itself uses doubles only to pick accounts and shares; every billed quantity is an
        // exact integer of nano-units from the start.
        var random = new Random(_options.Seed);
        var truth = new GroundTruth();
        var totals = new Dictionary<(int Account, int Sku), (long Count, Int128 Nanos)>();
        var recent = new GoodRecord[4096];
        long goodCount = 0;
        long badCount = 0;
        var ticksPerRecord = Math.Max(1, TimeSpan.TicksPerSecond / _options.Rate);
        var startTicks = _options.Start.UtcTicks;
        var buffer = new byte[1 << 20];
        var used = 0;
        for (long i = 0; i < _options.Records; i++)
        {
            if (used > buffer.Length - 32 * 1024)
            {
                output.Write(buffer, 0, used);
                used = 0;
            }

            var roll = random.NextDouble();
            if (roll < _options.BadShare)
            {
                var kind = BadKinds[badCount++ % BadKinds.Length];
                used += WriteBad(buffer.AsSpan(used), kind, i, startTicks + (i * ticksPerRecord));
                truth.Rejected[kind.Code()] = truth.Rejected.GetValueOrDefault(kind.Code()) + 1;
            }
            else if (roll < _options.BadShare + _options.DuplicateShare && goodCount > 0)
            {
                var again = recent[random.Next((int)Math.Min(goodCount, recent.Length))];
                used += WriteGood(buffer.AsSpan(used), in again);
                truth.Duplicates++;
            }
            else
            {
                var record = NextGood(random, i, startTicks + (i * ticksPerRecord));
                recent[goodCount++ % recent.Length] = record;
                used += WriteGood(buffer.AsSpan(used), in record);
                var key = (record.Account, record.Sku);
                var t = totals.GetValueOrDefault(key);
                totals[key] = (t.Count + 1, t.Nanos + record.Nanos);
                truth.Accepted++;
            }

            truth.Read++;
            if ((i & 0xFFFFF) == 0)
            {
                progress?.Report(i);
            }
        }

        output.Write(buffer, 0, used);
        output.Flush();
        foreach (var ((account, sku), (count, nanos)) in totals.OrderBy(kv => kv.Key.Account).ThenBy(kv => kv.Key.Sku))
        {
            truth.Totals.Add(new GroundTruthTotal
            {
                Account = AccountName(account),
                Sku = _skus[sku],
                Count = count,
                Quantity = FixedPoint.Format(nanos),
            });
        }

        return truth;
    }

    /// <summary>The name of account number <paramref name="k"/> (0-based rank).</summary>
    public static string AccountName(int k) => "acct-" + (k + 1).ToString(CultureInfo.InvariantCulture);

    private GoodRecord NextGood(Random random, long i, long baseTicks)
    {
        var sku = random.Next(_skus.Length);
        long nanos = sku switch
        {
            8 => random.NextInt64(1, 65) * FixedPoint.NanosPerUnit, // GPUs in use (max)
            9 => random.NextInt64(1, 17) * FixedPoint.NanosPerUnit, // database instances (min)
            10 => FixedPoint.NanosPerUnit, // one call (count)
            11 => random.NextInt64(1, 500_001) * FixedPoint.NanosPerUnit, // MB stored (time_weighted)
            12 => random.NextInt64(1_000, 100_000_001) * FixedPoint.NanosPerUnit, // bytes sent (percentile)
            13 => random.NextInt64(1, 51) * FixedPoint.NanosPerUnit, // seats reported (latest)
            14 => FixedPoint.NanosPerUnit, // a request from the record's region (unique_count of dimensions.region)
            0 => random.NextInt64(100, 10_000_000) * FixedPoint.NanosPerUnit, // whole bytes
            1 or 6 => FixedPoint.NanosPerUnit, // one request / transform
            2 => random.NextInt64(1, 50_000) * 1_000_000, // milliseconds with 3 decimals
            3 => random.NextInt64(1, 5_000_000_000), // GB-seconds with 9 decimals
            4 => random.NextInt64(1, 11) * FixedPoint.NanosPerUnit,
            5 => random.NextInt64(1, 121) * 500_000_000, // half minutes
            _ => random.NextInt64(1, 4001) * FixedPoint.NanosPerUnit,
        };

        // The account is drawn after the quantity, as it always was, so a scale of 1 draws the same random sequence
        // and writes the same bytes as before the scale existed.
        var account = PickAccount(random);
        return new GoodRecord
        {
            Id = i,
            Account = account,
            Sku = sku,
            Nanos = nanos * SizeFactor(sku, account),
            // Up to half a second of jitter either way: edge clocks and batching reorder records a little.
            Ticks = baseTicks + (random.Next(-500, 500) * TimeSpan.TicksPerMillisecond),
            Region = random.Next(Regions.Length),
            QuantityAsString = (i & 1) == 0,
        };
    }

    /// <summary>
    /// How many times bigger than a small account's a record of account rank <paramref name="account"/> (0-based) is:
    /// <see cref="WorkloadOptions.HeavyAccountScale"/> / rank (1-based), at least 1. Only the SKUs whose record is a
    /// count or a size grows with the account (bytes, requests, CPU, storage, queries, transforms: a big tenant's edge
    /// reports bigger batches and objects); a stream minute or a model call's tokens are bounded by the session or the
    /// call, whoever the tenant is.
    /// </summary>
    private long SizeFactor(int sku, int account) =>
        sku is 5 or 7 or >= 8 ? 1 : Math.Max(1, _options.HeavyAccountScale / (account + 1L)); // levels and peaks do not grow with a tenant's batches

    private int PickAccount(Random random)
    {
        var u = random.NextDouble();
        var index = Array.BinarySearch(_accountCdf, u);
        return Math.Min(index < 0 ? ~index : index, _accountCdf.Length - 1);
    }

    private int WriteGood(Span<byte> dst, in GoodRecord r)
    {
        var w = new LineWriter(dst);
        w.Ascii("{\"id\":\"e-");
        w.Int(_options.Seed);
        w.Ascii("-");
        w.Int(r.Id);
        w.Ascii("\",\"account\":\"acct-");
        w.Int(r.Account + 1);
        w.Ascii("\",\"sku\":\"");
        w.Ascii(_skus[r.Sku]);
        w.Ascii(r.QuantityAsString ? "\",\"quantity\":\"" : "\",\"quantity\":");
        w.Quantity(r.Nanos);
        w.Ascii(r.QuantityAsString ? "\",\"time\":\"" : ",\"time\":\"");
        w.Time(r.Ticks);
        w.Ascii("\",\"dimensions\":{\"region\":\"");
        w.Ascii(Regions[r.Region]);
        w.Ascii("\",\"colo\":\"c");
        w.Int(r.Account % 300);
        w.Ascii("\"}}\n");
        return w.Length;
    }

    private static int WriteBad(Span<byte> dst, RejectReason kind, long i, long ticks)
    {
        var w = new LineWriter(dst);
        w.Ascii("{\"id\":\"bad-");
        w.Int(i);
        switch (kind)
        {
            case RejectReason.MalformedJson:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":1"); // truncated object
                break;
            case RejectReason.NegativeQuantity:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":\"-5\",\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.QuantityPrecision:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":0.0000000001,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.InvalidTime:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"2026-13-01T00:00:00Z\"}");
                break;
            case RejectReason.MissingField:
                w.Ascii("\",\"account\":\"acct-1\",\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.InvalidUtf8:
                w.Ascii("\",\"account\":\"acct-\u00ff\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.FutureTime:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"2099-01-01T00:00:00Z\"}");
                break;
            case RejectReason.InvalidQuantity:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":\"abc\",\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.InvalidIdentifier:
                w.Ascii("\",\"account\":\"\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            case RejectReason.TooManyDimensions:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\",\"dimensions\":{");
                for (var d = 0; d < 17; d++)
                {
                    w.Ascii(d == 0 ? "\"d" : ",\"d");
                    w.Int(d);
                    w.Ascii("\":\"v\"");
                }

                w.Ascii("}}");
                break;
            case RejectReason.InvalidField:
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":5,\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\"}");
                break;
            default: // LineTooLong: a 20 KB unknown field pushes the line past the 16 KiB default limit
                w.Ascii("\",\"account\":\"acct-1\",\"sku\":\"cdn.requests\",\"quantity\":1,\"time\":\"");
                w.Time(ticks);
                w.Ascii("\",\"padding\":\"");
                w.Repeat((byte)'x', 20_000);
                w.Ascii("\"}");
                break;
        }

        w.Ascii("\n");
        return w.Length;
    }

    /// <summary>Appends ASCII/UTF-8 pieces to a span (no allocation).</summary>
    private ref struct LineWriter(Span<byte> destination)
    {
        private readonly Span<byte> _dst = destination;
        public int Length { get; private set; }

        public void Ascii(string s)
        {
            // The literals above are ASCII except the deliberate \u00ff, written as one raw byte 0xFF
            // so the line is invalid UTF-8.
            foreach (var c in s)
            {
                _dst[Length++] = (byte)c;
            }
        }

        public void Int(long v)
        {
            Utf8Formatter.TryFormat(v, _dst[Length..], out var n);
            Length += n;
        }

        public void Quantity(long nanos)
        {
            Span<char> chars = stackalloc char[48];
            var n = FixedPoint.Format(nanos, chars);
            Length += Encoding.ASCII.GetBytes(chars[..n], _dst[Length..]);
        }

        public void Time(long ticks)
        {
            new DateTime(ticks, DateTimeKind.Utc).TryFormat(_dst[Length..], out var n, "yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
            Length += n;
        }

        public void Repeat(byte b, int count)
        {
            _dst.Slice(Length, count).Fill(b);
            Length += count;
        }
    }
}
