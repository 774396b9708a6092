using System.Globalization;
using System.Text;
using Metering.Rating.Money;
using Metering.Rating.Periods;

namespace Metering.Rating.Accounts;

/// <summary>
/// An account's subscription terms: billing currency, price-book assignment (a list book and an optional contract
/// book), the subscription's start and optional end, and an optional billing-period rule of its own (anchor day and
/// IANA time zone; what is not given follows the list book's rule, see <see cref="PeriodRule"/>).
/// <para>The constructor checks the invariants the ledger's table holds (and throws <see cref="ArgumentException"/>
/// naming the field); <see cref="Validate"/> is the one validation of operator input, with a problem per field, used by
/// <c>PUT /v1/accounts/{account}</c> and <c>metering account set</c>. Value equality: two terms are equal when every
/// field is (instants compared as instants); that is what makes setting the same terms again a no-op.</para>
/// </summary>
public sealed record AccountTerms
{
    /// <summary>Longest price-book id (the ids <c>PUT /v1/pricebooks/{id}</c> accepts).</summary>
    public const int MaxBookIdLength = 128;

    /// <summary>Longest time-zone id stored (the longest IANA id has 32 characters).</summary>
    public const int MaxTimeZoneLength = 64;

    /// <summary>Highest anchor day: every month has it, so a period never starts on a clamped day.</summary>
    public const int MaxAnchorDay = 28;

    /// <summary>Longest reason of a change, in UTF-8 bytes.</summary>
    public const int MaxReasonBytes = 1000;

    /// <summary>Creates terms; throws <see cref="ArgumentException"/> naming the field that breaks an invariant.</summary>
    public AccountTerms(string account, Currency currency, string listBook, string? contractBook, DateTimeOffset start, DateTimeOffset? end,
        int? anchorDay, string? timeZone)
    {
        ArgumentException.ThrowIfNullOrEmpty(account);
        ArgumentNullException.ThrowIfNull(currency);
        if (BookIdProblem(listBook) is { } listProblem)
        {
            throw new ArgumentException("the list book id " + listProblem, nameof(listBook));
        }

        if (contractBook is not null && BookIdProblem(contractBook) is { } contractProblem)
        {
            throw new ArgumentException("the contract book id " + contractProblem, nameof(contractBook));
        }

        // PostgreSQL keeps microseconds: a finer instant would be stored rounded and never compare equal again.
        if (start.Ticks % 10 != 0 || end?.Ticks % 10 is not (null or 0))
        {
            throw new ArgumentException("subscription instants must be whole microseconds", end?.Ticks % 10 is not (null or 0) ? nameof(end) : nameof(start));
        }

        if (end is { } e && e <= start)
        {
            throw new ArgumentException("the subscription end must be after its start", nameof(end));
        }

        if (anchorDay is < 1 or > MaxAnchorDay)
        {
            throw new ArgumentOutOfRangeException(nameof(anchorDay), anchorDay, $"the anchor day must be 1-{MaxAnchorDay}");
        }

        if (timeZone is not null && (timeZone.Length is 0 or > MaxTimeZoneLength))
        {
            throw new ArgumentException($"a time zone id has 1-{MaxTimeZoneLength} characters", nameof(timeZone));
        }

        Account = account;
        Currency = currency;
        ListBook = listBook;
        ContractBook = contractBook;
        Start = start.ToUniversalTime();
        End = end?.ToUniversalTime();
        AnchorDay = anchorDay;
        TimeZone = timeZone;
    }

    /// <summary>The account id.</summary>
    public string Account { get; }

    /// <summary>The currency the account is billed in.</summary>
    public Currency Currency { get; }

    /// <summary>Id of the list price book the account is rated on.</summary>
    public string ListBook { get; }

    /// <summary>Id of the account's contract book (overrides of the list book), or null.</summary>
    public string? ContractBook { get; }

    /// <summary>Start of the subscription (UTC).</summary>
    public DateTimeOffset Start { get; }

    /// <summary>End of the subscription (UTC, exclusive), or null while it runs.</summary>
    public DateTimeOffset? End { get; }

    /// <summary>Day of month (1-28) periods start on, or null for the list book's.</summary>
    public int? AnchorDay { get; }

    /// <summary>IANA time zone whose local midnight starts a period, or null for UTC.</summary>
    public string? TimeZone { get; }

    /// <summary>
    /// The account's billing periods, given the list book's rule: with neither an anchor day nor a time zone, the list
    /// book's rule itself; otherwise monthly, on the account's anchor day (or the list book's monthly anchor, or 1
    /// when the list book has fixed-length periods), at local midnight in the account's zone (or UTC).
    /// </summary>
    public BillingPeriodRule PeriodRule(BillingPeriodRule listBookRule) => PeriodRuleOf(AnchorDay, TimeZone, listBookRule);

    /// <summary>The rule of <see cref="PeriodRule"/> for a stored anchor day and time zone (either may be null).</summary>
    public static BillingPeriodRule PeriodRuleOf(int? anchorDay, string? timeZone, BillingPeriodRule listBookRule)
    {
        ArgumentNullException.ThrowIfNull(listBookRule);
        if (anchorDay is null && timeZone is null)
        {
            return listBookRule;
        }

        var zone = timeZone is null ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        return BillingPeriodRule.Monthly(anchorDay ?? (listBookRule.AnchorDay is > 0 and var day ? day : 1), zone);
    }

    /// <summary>
    /// Validates operator input into terms. <paramref name="accountRule"/> is the identifier rule of accounts (the API
    /// and the CLI pass the records' rule, Metering.Aggregates' <c>IdentifierRules</c> with its length limit, which this
    /// pure project does not reference): null when the id is acceptable, else why not. Every bad field gets a problem
    /// under its name (<c>account</c>, <c>currency</c>, <c>list_book</c>, <c>contract_book</c>, <c>start</c>,
    /// <c>end</c>, <c>anchor_day</c>, <c>time_zone</c>, <c>reason</c>); no terms are returned then.
    /// </summary>
    public static AccountTermsValidation Validate(AccountTermsInput input, Func<string, string?> accountRule)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(accountRule);
        var problems = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Fail(string field, string reason) => problems[field] = [reason];

        if (string.IsNullOrEmpty(input.Account))
        {
            Fail("account", "is required and must not be empty");
        }
        else if (accountRule(input.Account) is { } accountProblem)
        {
            Fail("account", accountProblem);
        }

        Currency? currency = null;
        if (string.IsNullOrEmpty(input.Currency))
        {
            Fail("currency", "is required: an ISO 4217 code such as USD");
        }
        else if (!Currency.TryGet(input.Currency, out currency))
        {
            Fail("currency", $"'{input.Currency}' is not a known ISO 4217 currency code (upper case, such as USD or EUR)");
        }

        if (string.IsNullOrEmpty(input.ListBook))
        {
            Fail("list_book", "is required: the id of the list price book the account is rated on");
        }
        else if (BookIdProblem(input.ListBook) is { } listProblem)
        {
            Fail("list_book", listProblem);
        }

        if (input.ContractBook is not null && BookIdProblem(input.ContractBook) is { } contractProblem)
        {
            Fail("contract_book", contractProblem);
        }

        var start = Instant("start", input.Start, required: true, Fail);
        var end = Instant("end", input.End, required: false, Fail);
        if (start is { } s && end is { } e && e <= s)
        {
            Fail("end", $"must be after start ({Format(s)}); the subscription is the half-open range [start, end)");
        }

        if (input.AnchorDay is < 1 or > MaxAnchorDay)
        {
            Fail("anchor_day", $"must be a day of month from 1 to {MaxAnchorDay} (every month has it), got {input.AnchorDay}");
        }

        if (input.TimeZone is not null && TimeZoneProblem(input.TimeZone) is { } zoneProblem)
        {
            Fail("time_zone", zoneProblem);
        }

        if (input.Reason is not null && ReasonProblem(input.Reason) is { } reasonProblem)
        {
            Fail("reason", reasonProblem);
        }

        if (problems.Count > 0)
        {
            return new AccountTermsValidation(null, problems);
        }

        return new AccountTermsValidation(new AccountTerms(input.Account!, currency!, input.ListBook!, input.ContractBook, start!.Value, end, input.AnchorDay, input.TimeZone), problems);
    }

    /// <summary>Null when <paramref name="id"/> is a valid price-book id (1-128 of A-Z a-z 0-9 _ . -), else why not.</summary>
    public static string? BookIdProblem(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxBookIdLength)
        {
            return $"must be 1-{MaxBookIdLength} characters of A-Z a-z 0-9 _ . - (a price-book id)";
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return $"must be 1-{MaxBookIdLength} characters of A-Z a-z 0-9 _ . - (a price-book id), got '{id}'";
            }
        }

        return null;
    }

    /// <summary>Null when <paramref name="id"/> names an IANA time zone this host knows, else why not.</summary>
    public static string? TimeZoneProblem(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        // Only the shape of IANA ids (Area/Location, Etc/GMT+5, UTC) reaches the zone database: no paths, no Windows names.
        var shaped = id.Length is > 0 and <= MaxTimeZoneLength && id[0] != '/' && id[^1] != '/' && !id.Contains("//", StringComparison.Ordinal)
            && !id.Split('/').Any(part => part is "." or "..")
            && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '-' or '+');
        // The runtime caches zones case-insensitively, so whether "europe/berlin" is found depends on what was
        // looked up before; only the exact spelling is accepted, which keeps the answer (and the stored id) stable.
        if (shaped && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) && zone.HasIanaId)
        {
            return string.Equals(zone.Id, id, StringComparison.Ordinal) ? null : $"must be spelled '{zone.Id}' (IANA ids are case-sensitive)";
        }

        return $"'{id}' is not an IANA time zone this server knows (such as Europe/Berlin, America/New_York or UTC; names are case-sensitive)";
    }

    /// <summary>Null when <paramref name="reason"/> is a storable reason for a change, else why not.</summary>
    public static string? ReasonProblem(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (reason.Length == 0 || string.IsNullOrWhiteSpace(reason))
        {
            return "must not be empty (omit it instead)";
        }

        if (Encoding.UTF8.GetByteCount(reason) > MaxReasonBytes)
        {
            return $"must be at most {MaxReasonBytes} bytes (UTF-8)";
        }

        return reason.Any(c => char.IsControl(c) && c is not ('\n' or '\t')) ? "must not contain control characters other than line feed and tab" : null;
    }

    /// <summary>An instant as the API and the CLI print it: RFC 3339 in UTC, fractions only when present.</summary>
    public static string Format(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString(instant.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", CultureInfo.InvariantCulture);

    private static readonly string[] InstantFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFzzz",
    ];

    private static DateTimeOffset? Instant(string field, string? text, bool required, Action<string, string> fail)
    {
        if (text is null)
        {
            if (required)
            {
                fail(field, "is required: an RFC 3339 instant with an offset, such as 2026-11-01T00:00:00Z");
            }

            return null;
        }

        // At most 6 fractional digits: PostgreSQL keeps microseconds, and a finer instant would not read back equal.
        if (!DateTimeOffset.TryParseExact(text, InstantFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
        {
            fail(field, $"must be an RFC 3339 instant with an offset (Z or +hh:mm) and at most 6 fractional digits, such as 2026-11-01T00:00:00Z, got '{text}'");
            return null;
        }

        return instant;
    }
}
