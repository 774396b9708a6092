using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.DevKit.Workload;

namespace Metering.Benchmarks.Decoding;

/// <summary>
/// Decode throughput per record on the synthetic edge workload (good records only): our parser and the
/// stream decoder, against a JsonDocument-based decoder as the baseline in the same run.
/// Results are per record (OperationsPerInvoke), so "Allocated" is bytes per record.
/// </summary>
[MemoryDiagnoser]
public class DecoderBenchmarks
{
    private const int Records = 100_000;
    private byte[] _input = [];
    private int[] _lineStarts = [];
    private int[] _lineLengths = [];
    private UsageRecordParser _parser = null!;
    private NdjsonStreamDecoder _decoder = null!;
    private readonly CountingSink _sink = new();

    [GlobalSetup]
    public void Setup()
    {
        using var stream = new MemoryStream();
        new SyntheticWorkloadGenerator(new WorkloadOptions { Records = Records, DuplicateShare = 0, BadShare = 0 }).Generate(stream);
        _input = stream.ToArray();
        var starts = new List<int>();
        var lengths = new List<int>();
        var start = 0;
        for (var i = 0; i < _input.Length; i++)
        {
            if (_input[i] == '\n')
            {
                starts.Add(start);
                lengths.Add(i - start);
                start = i + 1;
            }
        }

        _lineStarts = [.. starts];
        _lineLengths = [.. lengths];
        var catalog = new RecordCatalog();
        var options = new DecoderOptions { Clock = new FixedClock() };
        _parser = new UsageRecordParser(catalog, options);
        _decoder = new NdjsonStreamDecoder(new Metering.Aggregates.Admission.RecordAdmission(catalog, new Metering.Aggregates.Admission.AdmissionOptions { Decoder = options }));
    }

    /// <summary>Bytes per record of this input (for MB/s = records/s x this).</summary>
    public double BytesPerRecord => (double)_input.Length / Records;

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public long JsonDocument_per_line()
    {
        long sum = 0;
        for (var i = 0; i < _lineStarts.Length; i++)
        {
            using var doc = JsonDocument.Parse(_input.AsMemory(_lineStarts[i], _lineLengths[i]));
            var root = doc.RootElement;
            var q = root.GetProperty("quantity");
            sum += root.GetProperty("account").GetString()!.Length + root.GetProperty("sku").GetString()!.Length +
                   root.GetProperty("id").GetString()!.Length +
                   (long)(q.ValueKind == JsonValueKind.String ? decimal.Parse(q.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : q.GetDecimal()) +
                   root.GetProperty("time").GetDateTimeOffset().UtcTicks;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long UsageRecordParser_per_line()
    {
        long sum = 0;
        for (var i = 0; i < _lineStarts.Length; i++)
        {
            _parser.Parse(_input.AsSpan(_lineStarts[i], _lineLengths[i]), out var record, out _);
            sum += record.QuantityNanos;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long NdjsonStreamDecoder_whole_input()
    {
        _sink.Records = 0;
        _decoder.Decode(new ReadOnlySequence<byte>(_input), _sink);
        return _sink.Records;
    }

    private sealed class CountingSink : IRecordSink
    {
        public long Records;

        public RecordBatch OnBatch(RecordBatch batch)
        {
            Records += batch.Count;
            return batch;
        }

        public void OnDeadLetter(DeadLetter deadLetter) => throw new InvalidOperationException(deadLetter.Detail);
    }

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
    }
}
