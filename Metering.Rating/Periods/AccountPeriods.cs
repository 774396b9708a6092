namespace Metering.Rating.Periods;

/// <summary>
/// Which billing periods each account's usage falls in, and which of them are closed, for one flush or one statement
/// read. Accounts follow the list book's rule and the list book's closes, except those with a period rule of their own
/// (anchor day and time zone, <see cref="Accounts.AccountTerms.PeriodRule"/>): those follow their rule and the closes
/// of their rule's periods (docs/statements.md, "Account billing periods"). Immutable.
/// </summary>
public sealed class AccountPeriods
{
    private static readonly HashSet<DateTimeOffset> NoneClosed = [];
    private readonly IReadOnlyDictionary<string, AccountPeriodRule> _own;

    /// <summary>
    /// Periods of <paramref name="listRule"/> for every account, closed at <paramref name="listClosed"/> (period starts),
    /// except the accounts in <paramref name="own"/> (null: none).
    /// </summary>
    public AccountPeriods(BillingPeriodRule listRule, IReadOnlySet<DateTimeOffset> listClosed, IReadOnlyDictionary<string, AccountPeriodRule>? own = null)
    {
        ArgumentNullException.ThrowIfNull(listRule);
        ArgumentNullException.ThrowIfNull(listClosed);
        ListRule = listRule;
        ListClosed = listClosed;
        _own = own ?? new Dictionary<string, AccountPeriodRule>(StringComparer.Ordinal);
    }

    /// <summary>Every account on <paramref name="rule"/>, none closed (file mode, tests).</summary>
    public static AccountPeriods Uniform(BillingPeriodRule rule) => new(rule, NoneClosed);

    /// <summary>The list book's rule.</summary>
    public BillingPeriodRule ListRule { get; }

    /// <summary>The closed periods of the list book's rule (their starts).</summary>
    public IReadOnlySet<DateTimeOffset> ListClosed { get; }

    /// <summary>The rule <paramref name="account"/>'s periods follow.</summary>
    public BillingPeriodRule RuleOf(string account) => _own.TryGetValue(account, out var own) ? own.Rule : ListRule;

    /// <summary>True when the period of <paramref name="account"/> starting at <paramref name="periodStart"/> is closed.</summary>
    public bool IsClosed(string account, DateTimeOffset periodStart) =>
        (_own.TryGetValue(account, out var own) ? own.Closed : ListClosed).Contains(periodStart);

    /// <summary>The period of <paramref name="account"/> that holds <paramref name="instant"/>.</summary>
    public BillingPeriod PeriodOf(string account, DateTimeOffset instant) => RuleOf(account).PeriodOf(instant);

    /// <summary>The first period of <paramref name="account"/> after <paramref name="period"/> that is not closed: where late usage and corrections of it are booked.</summary>
    public BillingPeriod NextOpen(string account, BillingPeriod period)
    {
        var rule = RuleOf(account);
        var open = rule.PeriodOf(period.End);
        while (IsClosed(account, open.Start))
        {
            open = rule.PeriodOf(open.End);
        }

        return open;
    }
}
