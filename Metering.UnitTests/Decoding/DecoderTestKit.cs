using System.Buffers;
using System.Text;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;

namespace Metering.UnitTests.Decoding;

/// <summary>A fixed clock for the future-time check.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public static readonly DateTimeOffset Default = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>A clock the test moves.</summary>
internal sealed class MovableClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Collects what a decoder produced, with record strings resolved.</summary>
internal sealed class CollectingSink(RecordCatalog catalog) : IRecordSink
{
    public List<(string Account, string Sku, long Nanos, long Ticks, UInt128 Fingerprint, long Line)> Records { get; } = [];
    public List<DeadLetter> DeadLetters { get; } = [];

    public RecordBatch OnBatch(RecordBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var r = batch.Items[i];
            Records.Add((catalog.Accounts.GetString(r.AccountId), catalog.Skus.GetString(r.SkuId), r.QuantityNanos, r.TimeTicks, r.Fingerprint, r.LineNumber));
        }

        return batch;
    }

    public void OnDeadLetter(DeadLetter deadLetter) => DeadLetters.Add(deadLetter);
}

/// <summary>A chain of buffer segments, to feed a decoder input split at chosen positions.</summary>
internal sealed class Segment : ReadOnlySequenceSegment<byte>
{
    private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        var bounds = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().Prepend(0).Append(data.Length).ToArray();
        var first = new Segment(data.AsMemory(bounds[0], bounds[1] - bounds[0]), 0);
        var last = first;
        for (var i = 1; i < bounds.Length - 1; i++)
        {
            var next = new Segment(data.AsMemory(bounds[i], bounds[i + 1] - bounds[i]), bounds[i]);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}

internal static class DecoderTestKit
{
    public static DecoderOptions Options(int maxLineBytes = 16 * 1024) =>
        new() { Clock = new FixedClock(FixedClock.Default), MaxLineBytes = maxLineBytes, BatchSize = 3 };

    public static (RejectReason Reason, UsageRecord Record, string Detail, RecordCatalog Catalog) ParseOne(string line, DecoderOptions? options = null, RecordCatalog? catalog = null) =>
        ParseOne(Encoding.UTF8.GetBytes(line), options, catalog);

    public static (RejectReason Reason, UsageRecord Record, string Detail, RecordCatalog Catalog) ParseOne(byte[] line, DecoderOptions? options = null, RecordCatalog? catalog = null)
    {
        catalog ??= new RecordCatalog();
        var parser = new UsageRecordParser(catalog, options ?? Options());
        var reason = parser.Parse(line, out var record, out var detail);
        return (reason, record, detail, catalog);
    }

    public static CollectingSink Decode(ReadOnlySequence<byte> input, DecoderOptions? options = null)
    {
        var catalog = new RecordCatalog();
        options ??= Options();
        var sink = new CollectingSink(catalog);
        new NdjsonStreamDecoder(new Metering.Aggregates.Admission.RecordAdmission(catalog, new Metering.Aggregates.Admission.AdmissionOptions { Decoder = options })).Decode(input, sink);
        return sink;
    }
}
