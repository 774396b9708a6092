using Metering.Aggregates.Decoding;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;

namespace Metering.Aggregates.Admission;

/// <summary>
/// The one admission rule for a raw usage record, used by the streaming engine (per Kafka message), the file mode
/// (per NDJSON line, through <see cref="NdjsonStreamDecoder"/>) and the HTTP edge (per framed record): size limit,
/// decoding and field rules (<see cref="UsageRecordParser"/>, <see cref="IdentifierRules"/>), the clock checks, the
/// SKU policy, the account policy and interning into the catalog. Duplicates are not decided here (each path has its own dedup state).
/// Allocation-free for accepted records. Not thread-safe: one instance per decoding thread or request.
/// </summary>
public sealed class RecordAdmission
{
    private AdmissionOptions _options;
    private readonly RecordCatalog _catalog;
    private readonly UsageRecordParser _parser;
    private readonly long _maxAgeTicks;
    private long _oldestAllowedTicks = long.MinValue;

    // Per SKU id: 0 = not looked up yet, 1 = known, 2 = unknown (only with UnknownSkuPolicy.Reject).
    private byte[] _skuKnown = new byte[64];

    // Per account id, the same, for the account directory's Version in _accountsVersion (only with
    // UnknownAccountPolicy.Reject). The directory changes at runtime: a new version clears the answers at the next
    // chunk, so an account created meanwhile is admitted from the first chunk after the directory has it.
    private byte[] _accountKnown = new byte[64];
    private long _accountsVersion;

    /// <summary>Creates an admission over <paramref name="catalog"/>; the clock is read at once.</summary>
    public RecordAdmission(RecordCatalog catalog, AdmissionOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _catalog = catalog;
        _parser = new UsageRecordParser(catalog, options.Decoder);
        _maxAgeTicks = options.MaxAge?.Ticks ?? 0;
        BeginChunk();
    }

    /// <summary>The catalog records are interned into (their ids are only meaningful with it).</summary>
    public RecordCatalog Catalog => _catalog;

    /// <summary>The rules.</summary>
    public AdmissionOptions Options => _options;

    /// <summary>
    /// Reads the clock (and the account directory's version). Call it at the start of every chunk, poll or request:
    /// the time checks then never use a clock older than the chunk, however long the stream was quiet before it, and
    /// an account the directory learnt of is admitted from the next chunk on.
    /// </summary>
    public void BeginChunk()
    {
        _parser.RefreshClock();
        if (_options.UnknownAccounts == UnknownAccountPolicy.Reject && _options.Accounts!.Version is var version && version != _accountsVersion)
        {
            Array.Clear(_accountKnown);
            _accountsVersion = version;
        }

        if (_maxAgeTicks > 0)
        {
            _oldestAllowedTicks = _options.Decoder.Clock.GetUtcNow().UtcTicks - _maxAgeTicks;
        }
    }

    /// <summary>
    /// Admits <paramref name="raw"/> (one record, no line terminator). Returns <see cref="RejectReason.None"/> and the
    /// record, or the reason and a detail that names the field and the limit. Ordinary bad input never throws.
    /// <see cref="RejectReason.CardinalityLimit"/> means the catalog is full: the caller may switch to a fresh catalog
    /// (a new admission) and admit the record again.
    /// </summary>
    public RejectReason Admit(ReadOnlySpan<byte> raw, out UsageRecord record, out string detail)
    {
        if (raw.Length > _options.Decoder.MaxLineBytes)
        {
            record = default;
            detail = $"the record is {raw.Length} bytes; the limit is {_options.Decoder.MaxLineBytes}";
            return RejectReason.LineTooLong;
        }

        return AdmitWithinLimit(raw, out record, out detail);
    }

    /// <summary>As <see cref="Admit"/> for a record whose length the caller already checked (the NDJSON decoder).</summary>
    internal RejectReason AdmitWithinLimit(ReadOnlySpan<byte> raw, out UsageRecord record, out string detail)
    {
        var reason = _parser.Parse(raw, out record, out detail);
        if (reason != RejectReason.None)
        {
            return reason;
        }

        if (record.TimeTicks < _oldestAllowedTicks)
        {
            detail = LatenessRule.Detail(_options.MaxAge!.Value, "the clock");
            return RejectReason.ExpiredTime;
        }

        if (_options.UnknownSkus == UnknownSkuPolicy.Reject && !IsKnown(record.SkuId))
        {
            detail = "sku '" + _catalog.Skus.GetString(record.SkuId) + "' is in no price book (unknown SKUs are refused by configuration)";
            return RejectReason.UnknownSku;
        }

        if (_options.UnknownAccounts == UnknownAccountPolicy.Reject && !IsKnownAccount(record.AccountId))
        {
            detail = UnknownAccountDetail(_catalog.Accounts.GetString(record.AccountId));
            return RejectReason.UnknownAccount;
        }

        return RejectReason.None;
    }

    /// <summary>
    /// The event id (UTF-8, JSON-unescaped) of the record <paramref name="raw"/>, which the last <see cref="Admit"/>
    /// accepted: what a latest meter needs beyond the <see cref="UsageRecord"/>. Valid until the next admission.
    /// </summary>
    public ReadOnlySpan<byte> AdmittedId(ReadOnlySpan<byte> raw) => _parser.LastId(raw);

    /// <summary>
    /// The value of dimension <paramref name="key"/> of the record the last <see cref="Admit"/> accepted, whether the
    /// catalog keeps it or not (a unique_count meter's field); false when the record has none. Valid until the next admission.
    /// </summary>
    public bool TryGetAdmittedDimension(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value) => _parser.TryGetLastDimension(key, out value);

    private static string UnknownAccountDetail(string account) =>
        "account '" + account + "' does not exist (unknown accounts are refused by configuration); create it with PUT /v1/accounts/" +
        Uri.EscapeDataString(account) + " or metering account set --account ..., then send again";

    private bool IsKnownAccount(int accountId)
    {
        if (accountId >= _accountKnown.Length)
        {
            Array.Resize(ref _accountKnown, Math.Max(accountId + 1, _accountKnown.Length * 2));
        }

        if (_accountKnown[accountId] == 0)
        {
            _accountKnown[accountId] = _options.Accounts!.Contains(_catalog.Accounts.GetString(accountId)) ? (byte)1 : (byte)2;
        }

        return _accountKnown[accountId] == 1;
    }

    /// <summary>
    /// Judges SKUs against <paramref name="knownSkus"/> from the next record on (a price-book version published while
    /// the engine runs may price new SKUs); the SKUs judged so far are judged again. Null keeps the current set.
    /// </summary>
    public void UseKnownSkus(IReadOnlySet<string>? knownSkus)
    {
        if (knownSkus is null || _options.UnknownSkus != UnknownSkuPolicy.Reject)
        {
            return;
        }

        _options = _options with { KnownSkus = knownSkus };
        Array.Clear(_skuKnown);
    }

    private bool IsKnown(int skuId)
    {
        if (skuId >= _skuKnown.Length)
        {
            Array.Resize(ref _skuKnown, Math.Max(skuId + 1, _skuKnown.Length * 2));
        }

        if (_skuKnown[skuId] == 0)
        {
            _skuKnown[skuId] = _options.KnownSkus!.Contains(_catalog.Skus.GetString(skuId)) ? (byte)1 : (byte)2;
        }

        return _skuKnown[skuId] == 1;
    }
}
