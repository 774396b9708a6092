using System.Security.Claims;
using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Records;

using Metering.Web.HttpIngest;

namespace Metering.Web.Api;

/// <summary>
/// The records of one request as they are framed: each is admitted with the shared <see cref="RecordAdmission"/>,
/// checked against the caller's accounts and against the records before it, and kept (its bytes on one line) when it
/// is to be produced. Then <see cref="ProduceAsync"/> sends the kept ones and waits for every acknowledgement.
/// </summary>
internal sealed class IngestRequest(HttpIngestService service, ClaimsPrincipal user) : IFramedRecordTarget
{
    public const string Accepted = "accepted";
    public const string Duplicate = "duplicate";
    public const string Conflict = "conflict";
    public const string Rejected = "rejected";
    public const string AccountNotAllowed = "account_not_allowed";
    public const string KafkaUnavailable = "kafka_unavailable";
    public const string Overloaded = "overloaded";

    private readonly RecordAdmission _admission = service.NewAdmission();
    private readonly string _credential = user.FindFirst("sub")?.Value ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "anonymous";
    // Most credentials may write every account: then the claims are not walked once per record.
    private readonly bool _anyAccount = !ApiScopes.IsAccountBound(user);
    private readonly Dictionary<UInt128, (int Index, ulong Digest)> _seen = [];
    private readonly List<Pending> _pending = [];
    // Records judged against an earlier record of this request: their receipts are provisional until Redis says
    // whether that earlier record's id was known before (then Redis's payload is the one to compare with).
    private readonly List<(int Index, int First, SeenId Id)> _repeats = [];

    /// <summary>Per record, in body order.</summary>
    public List<Receipt> Receipts { get; } = [];

    public int Count => Receipts.Count;

    public int PendingCount => _pending.Count;

    /// <summary>True when the request stopped at the record limit (the handler answers 413).</summary>
    public bool TooMany { get; private set; }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        if (!Admit())
        {
            return;
        }

        var index = Receipts.Count;
        // The engine's own admission rule (one implementation): what is accepted here is never dead-lettered there
        // for the same reason.
        var reason = _admission.Admit(record, out var parsed, out var detail);
        if (reason != RejectReason.None)
        {
            Receipts.Add(new Receipt(Rejected, reason.Code(), detail));
            return;
        }

        var account = _admission.Catalog.Accounts.GetString(parsed.AccountId);
        if (!_anyAccount && !ApiScopes.MayRead(user, account))
        {
            Receipts.Add(new Receipt(Rejected, AccountNotAllowed, $"the credentials may not write account '{account}'"));
            return;
        }

        if (service.CardinalityLimits.Admit(_credential, account, _admission.Catalog.Skus.GetString(parsed.SkuId)) is { } limited)
        {
            Receipts.Add(new Receipt(Rejected, RejectReason.EdgeCardinalityLimit.Code(), limited));
            return;
        }

        if (_seen.TryGetValue(parsed.Fingerprint, out var first))
        {
            _repeats.Add((index, first.Index, new SeenId(parsed.Fingerprint, parsed.PayloadDigest, parsed.TimeTicks)));
            Receipts.Add(PayloadDigest.Conflicts(first.Digest, parsed.PayloadDigest)
                ? new Receipt(Conflict, RejectReason.Conflict.Code(), ConflictDetail.Of(record, $"same account and id as record {first.Index} of this request"))
                : new Receipt(Duplicate, null, $"same account and id as record {first.Index} of this request"));
            return;
        }

        _seen.Add(parsed.Fingerprint, (index, parsed.PayloadDigest));
        // The value is the record's own bytes on one line: a pretty-printed array element has line breaks only
        // between tokens (a raw line break inside a string is invalid JSON, rejected above), so spaces replace them.
        var value = record.ToArray();
        for (var i = value.AsSpan().IndexOfAny((byte)'\r', (byte)'\n'); i >= 0 && i < value.Length; i++)
        {
            if (value[i] is (byte)'\r' or (byte)'\n')
            {
                value[i] = (byte)' ';
            }
        }

        Receipts.Add(new Receipt(Accepted, null, null));
        _pending.Add(new Pending(index, account, value, new SeenId(parsed.Fingerprint, parsed.PayloadDigest, parsed.TimeTicks)));
    }

    public void OnOversize(long length)
    {
        if (Admit())
        {
            Receipts.Add(new Receipt(Rejected, RejectReason.LineTooLong.Code(), $"the record is {length} bytes; the limit is {service.Options.Decoder.MaxLineBytes}"));
        }
    }

    /// <summary>A record refused before admission (a CloudEvent the mapping cannot translate): its rejected receipt.</summary>
    public void OnRejected(string reason, string detail)
    {
        if (Admit())
        {
            Receipts.Add(new Receipt(Rejected, reason, detail));
        }
    }

    /// <summary>Drops the records Redis says were accepted before; false when Redis did not answer (all are kept).</summary>
    public async Task<bool> DropSeenAsync()
    {
        if (_pending.Count == 0 || !service.HasSharedDedup)
        {
            return true;
        }

        var ids = new SeenId[_pending.Count + _repeats.Count];
        for (var i = 0; i < _pending.Count; i++)
        {
            ids[i] = _pending[i].Id;
        }

        for (var i = 0; i < _repeats.Count; i++)
        {
            ids[_pending.Count + i] = _repeats[i].Id;
        }

        if (await service.TryFindSeenAsync(ids).ConfigureAwait(false) is not { } seen)
        {
            return false;
        }

        if (_repeats.Count > 0)
        {
            var knownBefore = new HashSet<int>();
            for (var i = 0; i < _pending.Count; i++)
            {
                if (seen[i] != DedupVerdict.New)
                {
                    knownBefore.Add(_pending[i].Index);
                }
            }

            for (var i = 0; i < _repeats.Count; i++)
            {
                var (index, firstIndex, _) = _repeats[i];
                if (knownBefore.Contains(firstIndex))
                {
                    // Not a duplicate of what Redis holds (a New answer means another event minute: another time) is a conflict.
                    Receipts[index] = seen[_pending.Count + i] != DedupVerdict.Duplicate
                        ? new Receipt(Conflict, RejectReason.Conflict.Code(), ConflictDetail.Of(_pending.Find(p => p.Index == firstIndex)!.Value, "the shared dedup horizon"))
                        : new Receipt(Duplicate, null, "the same account and id was accepted before (shared dedup horizon)");
                }
            }
        }

        var kept = 0;
        for (var i = 0; i < _pending.Count; i++)
        {
            var p = _pending[i];
            if (seen[i] == DedupVerdict.Duplicate)
            {
                Receipts[p.Index] = new Receipt(Duplicate, null, "the same account and id was accepted before (shared dedup horizon)");
            }
            else if (seen[i] == DedupVerdict.Conflict)
            {
                Receipts[p.Index] = new Receipt(Conflict, RejectReason.Conflict.Code(), ConflictDetail.Of(p.Value, "the shared dedup horizon"));
            }
            else
            {
                _pending[kept++] = p;
            }
        }

        _pending.RemoveRange(kept, _pending.Count - kept);
        return true;
    }

    /// <summary>
    /// Produces every kept record and returns when Kafka acknowledged or failed each one (never before: a 202 means
    /// durable in Kafka). A failed record's receipt becomes rejected with kafka_unavailable (or overloaded when the
    /// producer's own queue was full); the acknowledged ids are returned for the Redis marks.
    /// </summary>
    public async Task<SeenId[]> ProduceAsync()
    {
        if (_pending.Count == 0)
        {
            return [];
        }

        var tracker = new DeliveryTracker(_pending.Count);
        var producer = service.Producer;
        var topic = service.Options.Topic;
        foreach (var p in _pending)
        {
            p.Tracker = tracker;
            try
            {
                producer.Produce(topic, new Message<string?, byte[]> { Key = p.Account, Value = p.Value }, p.OnDelivery);
            }
            catch (ProduceException<string?, byte[]> e)
            {
                p.Fail(e.Error.Code == ErrorCode.Local_QueueFull ? Overloaded : KafkaUnavailable, e.Error.Reason);
            }
            catch (KafkaException e)
            {
                p.Fail(KafkaUnavailable, e.Error.Reason);
            }
        }

        await tracker.Done.ConfigureAwait(false);
        var delivered = new List<SeenId>(_pending.Count);
        foreach (var p in _pending)
        {
            if (p.FailureReason is null)
            {
                delivered.Add(p.Id);
            }
            else
            {
                Receipts[p.Index] = new Receipt(Rejected, p.FailureReason, "not acknowledged by Kafka: " + p.FailureDetail);
            }
        }

        return [.. delivered];
    }

    private bool Admit()
    {
        if (Receipts.Count < service.Options.MaxRecords)
        {
            return true;
        }

        TooMany = true;
        return false;
    }

    internal readonly record struct Receipt(string Status, string? Reason, string? Detail);

    private sealed class DeliveryTracker(int count)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;

        public Task Done => _done.Task;

        public void One()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.TrySetResult();
            }
        }
    }

    private sealed class Pending(int index, string account, byte[] value, SeenId id)
    {
        public int Index { get; } = index;

        public string Account { get; } = account;

        public byte[] Value { get; } = value;

        public SeenId Id { get; } = id;

        public DeliveryTracker? Tracker { get; set; }

        public string? FailureReason { get; private set; }

        public string? FailureDetail { get; private set; }

        public void OnDelivery(DeliveryReport<string?, byte[]> report)
        {
            if (report.Error.IsError)
            {
                FailureReason = KafkaUnavailable;
                FailureDetail = report.Error.Reason;
            }

            Tracker!.One();
        }

        public void Fail(string reason, string detail)
        {
            FailureReason = reason;
            FailureDetail = detail;
            Tracker!.One();
        }
    }
}
