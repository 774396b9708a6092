using System.Globalization;
using System.Text;
using Metering.Aggregates.Records;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Accounts;
using Metering.Rating.Money;

namespace Metering.Ledger.Corrections;

/// <summary>
/// A validated correction, ready for <see cref="CorrectionStore.WriteAsync"/>. Void and amend name the event as it was
/// sent (<see cref="EventId"/>, <see cref="Sku"/>, <see cref="EventTime"/>, the <see cref="OriginalQuantity"/> recorded,
/// and for amend the <see cref="NewQuantity"/>; a void's is 0). Credit and debit carry a signed <see cref="Amount"/>
/// (credit negative) in <see cref="Currency"/> and optionally the <see cref="Period"/> start to book into.
/// <see cref="Actor"/> is who asked; it is audited but not part of the request an idempotency key identifies.
/// </summary>
public sealed record CorrectionRequest(
    string Account,
    CorrectionKind Kind,
    string IdempotencyKey,
    string? EventId,
    string? Sku,
    DateTimeOffset? EventTime,
    decimal? OriginalQuantity,
    decimal? NewQuantity,
    decimal? Amount,
    string? Currency,
    DateTimeOffset? Period,
    string Reason,
    string Actor)
{
    /// <summary>
    /// Void and amend: the event's dimensions as it was sent (sorted by key; empty when it had none or they are not
    /// named). Under a price with <c>group_by</c> they pick the usage line (dimension group) the correction changes.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Dimensions { get; init; } = [];

    /// <summary>Most dimensions a correction names (as many as a record may carry).</summary>
    public const int MaxDimensions = 16;

    /// <summary>Longest idempotency key, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 128;

    /// <summary>Longest actor kept; longer names are cut.</summary>
    public const int MaxActorLength = 200;

    /// <summary>The field names of a correction body, for "unknown field" messages.</summary>
    public const string FieldNames = "kind, idempotency_key, event_id, sku, event_time, dimensions, original_quantity, new_quantity, amount, currency, period, reason";

    /// <summary>The kind's name as stored and as the API writes it.</summary>
    public static string KindName(CorrectionKind kind) => kind switch
    {
        CorrectionKind.Void => "void",
        CorrectionKind.Amend => "amend",
        CorrectionKind.Credit => "credit",
        _ => "debit",
    };

    /// <summary>The kind named <paramref name="name"/>, or null.</summary>
    public static CorrectionKind? ParseKind(string? name) => name switch
    {
        "void" => CorrectionKind.Void,
        "amend" => CorrectionKind.Amend,
        "credit" => CorrectionKind.Credit,
        "debit" => CorrectionKind.Debit,
        _ => null,
    };

    /// <summary>
    /// Checks <paramref name="input"/> field by field, the one validation of the API and the CLI. Quantities follow the
    /// records' admission rule (<see cref="FixedPoint.TryParse"/>: exact, at most 9 fractional digits, at most a
    /// record's largest quantity), the event time the records' RFC 3339 rule, the account, event id and SKU
    /// <paramref name="identifierProblem"/> (the records' identifier rules), the reason
    /// <see cref="AccountTerms.ReasonProblem"/>; amounts are above 0, in the ledger range and have at most the
    /// currency's minor digits. Whether the ledger's state allows the correction is decided by the store.
    /// </summary>
    public static CorrectionValidation Validate(CorrectionInput input, string actor, Func<string?, string?> identifierProblem)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentException.ThrowIfNullOrEmpty(actor);
        ArgumentNullException.ThrowIfNull(identifierProblem);
        var problems = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Fail(string field, string reason) => problems[field] = [reason];

        if (identifierProblem(input.Account) is { } accountProblem)
        {
            Fail("account", accountProblem);
        }

        var kind = ParseKind(input.Kind);
        if (kind is null)
        {
            Fail("kind", input.Kind is null ? "is required: void, amend, credit or debit" : $"must be void, amend, credit or debit, got '{Shown(input.Kind)}'");
        }

        if (KeyProblem(input.IdempotencyKey) is { } keyProblem)
        {
            Fail("idempotency_key", keyProblem);
        }

        if (input.Reason is null)
        {
            Fail("reason", "is required: say why, it is kept in the audit");
        }
        else if (AccountTerms.ReasonProblem(input.Reason) is { } reasonProblem)
        {
            Fail("reason", reasonProblem);
        }

        string? eventId = null, sku = null, currency = null;
        IReadOnlyList<KeyValuePair<string, string>> dimensions = [];
        if (kind is CorrectionKind.Credit or CorrectionKind.Debit && input.Dimensions is not null)
        {
            Fail("dimensions", $"must be absent for {input.Kind}: a credit or debit is not usage of an event");
        }

        DateTimeOffset? eventTime = null, period = null;
        decimal? original = null, updated = null, amount = null;
        if (kind is CorrectionKind.Void or CorrectionKind.Amend)
        {
            var name = KindName(kind.Value);
            eventId = Required(input.EventId, "event_id", $"is required for {name}: the id the event was sent with");
            if (eventId is not null && identifierProblem(eventId) is { } idProblem)
            {
                Fail("event_id", idProblem);
            }

            dimensions = DimensionsOf(input.Dimensions, Fail);
            sku = Required(input.Sku, "sku", $"is required for {name}: the event's SKU");
            if (sku is not null && identifierProblem(sku) is { } skuProblem)
            {
                Fail("sku", skuProblem);
            }

            if (Required(input.EventTime, "event_time", $"is required for {name}: the event's time as it was sent") is { } timeText)
            {
                if (Rfc3339.TryParseUtcTicks(Encoding.UTF8.GetBytes(timeText), out var ticks))
                {
                    eventTime = new DateTimeOffset(ticks, TimeSpan.Zero);
                }
                else
                {
                    Fail("event_time", $"must be an RFC 3339 instant with an offset, such as 2026-11-20T10:00:00Z, got '{Shown(timeText)}'");
                }
            }

            if (Required(input.OriginalQuantity, "original_quantity", $"is required for {name}: the quantity the event was recorded with (or its last amend's new_quantity)") is { } originalText)
            {
                original = Quantity("original_quantity", originalText, Fail);
            }

            if (kind == CorrectionKind.Amend)
            {
                if (Required(input.NewQuantity, "new_quantity", "is required for amend: the event's corrected quantity (0 or more)") is { } newText)
                {
                    updated = Quantity("new_quantity", newText, Fail);
                }

                if (original is { } o && updated is { } n && o == n)
                {
                    Fail("new_quantity", $"equals original_quantity ({Quantity(n)}): an amend must change the quantity");
                }
            }
            else
            {
                Absent(input.NewQuantity, "new_quantity", "a void sets the quantity to 0; use amend for another quantity");
                updated = 0m;
            }

            Absent(input.Amount, "amount", "credit and debit carry amounts; a void or amend changes a quantity");
            Absent(input.Currency, "currency", "credit and debit carry a currency; a void or amend is rated with the SKU's price");
            Absent(input.Period, "period", "a void or amend is booked by its event's time");
        }
        else if (kind is CorrectionKind.Credit or CorrectionKind.Debit)
        {
            var name = KindName(kind.Value);
            foreach (var (value, field) in new[] { (input.EventId, "event_id"), (input.Sku, "sku"), (input.EventTime, "event_time"), (input.OriginalQuantity, "original_quantity"), (input.NewQuantity, "new_quantity") })
            {
                Absent(value, field, $"a {name} is a money adjustment of the account, not of an event");
            }

            Metering.Rating.Money.Currency? money = null;
            if (Required(input.Currency, "currency", $"is required for {name}: an ISO 4217 code such as USD") is { } code)
            {
                if (Metering.Rating.Money.Currency.TryGet(code, out var c))
                {
                    money = c;
                    currency = c.Code;
                }
                else
                {
                    Fail("currency", $"must be a known ISO 4217 code in upper case, such as USD or EUR, got '{Shown(code)}'");
                }
            }

            if (Required(input.Amount, "amount", $"is required for {name}: a decimal string above 0 (the sign comes from the kind)") is { } amountText)
            {
                if (LedgerDecimal.ParsePositive(amountText, out var positive) is { } amountProblem)
                {
                    Fail("amount", amountProblem);
                }
                else if (money is not null && decimal.Round(positive, money.MinorUnits) != positive)
                {
                    Fail("amount", $"has more fractional digits than {money.Code}'s {money.MinorUnits} minor unit digit(s), got '{Shown(amountText)}'");
                }
                else
                {
                    amount = kind == CorrectionKind.Credit ? -positive : positive;
                }
            }

            if (input.Period is not null)
            {
                try
                {
                    period = PeriodCloser.ParsePeriodStart(input.Period);
                }
                catch (FormatException e)
                {
                    Fail("period", e.Message);
                }
            }
        }

        if (problems.Count > 0)
        {
            return new CorrectionValidation(null, problems);
        }

        actor = actor.Length > MaxActorLength ? actor[..MaxActorLength] : actor;
        return new CorrectionValidation(
            new CorrectionRequest(input.Account!, kind!.Value, input.IdempotencyKey!, eventId, sku, eventTime, original, updated, amount, currency, period, input.Reason!, actor)
            {
                Dimensions = dimensions,
            },
            problems);

        string? Required(string? value, string field, string reason)
        {
            if (value is null)
            {
                Fail(field, reason);
            }

            return value;
        }

        void Absent(string? value, string field, string why)
        {
            if (value is not null)
            {
                Fail(field, $"must be absent for {input.Kind}: {why}");
            }
        }
    }

    /// <summary>The dimensions a void or amend names, checked by the records' limits (keys 1-64 bytes without '=', values at most 256 bytes, no control characters), sorted by key.</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> DimensionsOf(IReadOnlyDictionary<string, string>? input, Action<string, string> fail)
    {
        if (input is null || input.Count == 0)
        {
            return [];
        }

        if (input.Count > MaxDimensions)
        {
            fail("dimensions", $"has {input.Count} entries; an event carries at most {MaxDimensions}");
            return [];
        }

        static bool Clean(string s) => !s.Any(c => char.IsControl(c) || c is '\uFFFE' or '\uFFFF');
        foreach (var (key, value) in input)
        {
            if (Encoding.UTF8.GetByteCount(key) is 0 or > 64 || key.Contains('=', StringComparison.Ordinal) || !Clean(key))
            {
                fail("dimensions", $"key '{Shown(key)}' must be 1-64 bytes without '=' or control characters");
                return [];
            }

            if (Encoding.UTF8.GetByteCount(value ?? "") > 256 || value is null || !Clean(value))
            {
                fail("dimensions", $"the value of '{Shown(key)}' must be a string of at most 256 bytes without control characters");
                return [];
            }
        }

        return [.. input.OrderBy(p => p.Key, StringComparer.Ordinal)];
    }

    /// <summary>A quantity as the API and messages write it: exact, no trailing zeros.</summary>
    public static string Quantity(decimal value) => value.ToString("0.#########", CultureInfo.InvariantCulture);

    private static decimal? Quantity(string field, string text, Action<string, string> fail)
    {
        // The records' admission rule, so a correction can name exactly the quantities an event can carry.
        var status = FixedPoint.TryParse(Encoding.UTF8.GetBytes(text), out var nanos);
        if (status == FixedPoint.ParseStatus.Ok && FixedPoint.TryToDecimal(nanos, out var value))
        {
            return value;
        }

        fail(field, status switch
        {
            FixedPoint.ParseStatus.Negative => $"must not be negative, got '{Shown(text)}'",
            FixedPoint.ParseStatus.TooPrecise => $"has more than {FixedPoint.Scale} fractional digits, got '{Shown(text)}'",
            FixedPoint.ParseStatus.TooLarge => $"is larger than a record's largest quantity ({FixedPoint.Format(FixedPoint.MaxRecordNanos)}), got '{Shown(text)}'",
            _ => $"must be a decimal string such as \"12.5\", got '{Shown(text)}'",
        });
        return null;
    }

    private static string? KeyProblem(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "is required: a key of your own (1-128 bytes, e.g. a UUID) that makes a retry of this request a no-op";
        }

        var utf8 = Encoding.UTF8.GetBytes(key);
        if (utf8.Length > MaxKeyBytes)
        {
            return $"must be at most {MaxKeyBytes} bytes (UTF-8)";
        }

        return IdentifierRules.CheckText(utf8) is { } why ? "must not be a value no ledger column can keep: it " + why : null;
    }

    private static string Shown(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
