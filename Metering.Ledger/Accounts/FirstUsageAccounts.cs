using System.Globalization;
using Metering.Aggregates.Admission;
using Metering.Rating.Accounts;
using Metering.Rating.PeriodTotals;
using Metering.Rating.PriceBooks;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Accounts;

/// <summary>
/// <see cref="UnknownAccountPolicy.Auto"/> in the ledger: inside the flush transaction, creates the accounts the flush
/// books usage for that have no row, on the list book: currency = the list book's, contract book = the account's
/// contract book in the price catalog (if it has one), subscription start = the start of the list book's billing
/// period of the first window booked for it (an account without a row was always billed as subscribed from that
/// period's start; the row makes that explicit and changes no amount). Each creation has its <c>account_changes</c>
/// row (actor <see cref="Actor"/>, reason <see cref="Reason"/>). <c>INSERT ... ON CONFLICT DO NOTHING</c>: an account
/// created meanwhile by the API, the CLI or another engine is left as it is.
/// <para>Only accounts not known to exist are tried: the account directory (if given) and the accounts this
/// process found existing since the directory's last change, so a steady-state flush runs no statement at all. Without
/// a list book, or with one whose id the table cannot store (<see cref="CannotCreate"/>), nothing is created (the usage
/// is rated as without this type). Thread-safe.</para>
/// </summary>
public sealed class FirstUsageAccounts(PriceCatalog? prices, IAccountDirectory? directory)
{
    /// <summary>The actor of the audit row.</summary>
    public const string Actor = "engine";

    /// <summary>The reason of the audit row.</summary>
    public const string Reason = "created by first usage";

    private readonly Lock _lock = new();
    // Accounts an insert found existing (committed by another writer) that the directory's snapshot may not hold yet;
    // cleared when the directory changes, which then holds them.
    private readonly HashSet<string> _existing = new(StringComparer.Ordinal);
    private long _existingVersion;
    private long _inserted;

    /// <summary>Account rows inserted (in flush transactions; one that rolled back is retried and counted again).</summary>
    public long Inserted => Interlocked.Read(ref _inserted);

    /// <summary>
    /// Why <paramref name="catalog"/> lets no account be created (no list book, or a list book id the accounts table
    /// cannot store: a row that broke its CHECK would fail every flush), or null when it does.
    /// </summary>
    public static string? CannotCreate(PriceCatalog? catalog) =>
        catalog?.List is not { } list ? "no list book"
        : AccountTerms.BookIdProblem(list.Id) is { } problem ? $"the list book id '{list.Id}' {problem}"
        : null;

    /// <summary>Creates the missing accounts of <paramref name="usage"/> in <paramref name="tx"/>.</summary>
    public async Task CreateMissingAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<UsageWindow> usage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(usage);
        if (usage.Count == 0 || CannotCreate(prices) is not null)
        {
            return;
        }

        var list = prices!.List!;

        var missing = Missing(usage);
        if (missing is null)
        {
            return;
        }

        // Sorted: two engines inserting overlapping accounts take the key locks in one order, so they never deadlock.
        var accounts = missing.Keys.ToArray();
        Array.Sort(accounts, StringComparer.Ordinal);
        var starts = new DateTimeOffset[accounts.Length];
        var contracts = new string?[accounts.Length];
        for (var i = 0; i < accounts.Length; i++)
        {
            starts[i] = list.Periods.PeriodOf(missing[accounts[i]]).Start.ToUniversalTime();
            // A contract book id the table cannot store is left out (the engine rates by the catalog, not the row).
            contracts[i] = prices.ContractOf(accounts[i])?.Id is { } contract && AccountTerms.BookIdProblem(contract) is null ? contract : null;
        }

        // The currency trigger (migration 0018) need not check these rows: an account without a row was rated
        // in the list book's currency, the one it is created in, so nothing changes currency. Telling it so keeps a
        // flush of 10,000 new accounts from running 10,000 usage lookups (it halved the main job's rate).
        await SetFirstUsageAsync(connection, tx, true, cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand($"""
            WITH inserted AS (
              INSERT INTO accounts (account, currency, list_book, contract_book, subscription_start)
              SELECT c.account, $4, $5, c.contract_book, c.start
              FROM unnest($1::text[], $2::timestamptz[], $3::text[]) WITH ORDINALITY AS c(account, start, contract_book, n)
              ORDER BY c.n
              ON CONFLICT (account) DO NOTHING
              RETURNING *),
            audit AS (
              INSERT INTO account_changes (account, change, actor, reason, previous, terms)
              SELECT i.account, 'created', $6, $7, NULL, {string.Format(CultureInfo.InvariantCulture, AccountStore.TermsJson, "i")} FROM inserted i)
            SELECT account FROM inserted
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = accounts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = starts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = contracts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = list.Currency.Code, NpgsqlDbType = NpgsqlDbType.Char });
        cmd.Parameters.Add(new() { Value = list.Id, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = Actor, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = Reason, NpgsqlDbType = NpgsqlDbType.Text });
        var created = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                created.Add(reader.GetString(0));
            }
        }

        await SetFirstUsageAsync(connection, tx, false, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _inserted, created.Count);
        lock (_lock)
        {
            // The ones not inserted exist, committed by another writer. The ones inserted exist only if this
            // transaction commits: the directory learns of them then (NOTIFY), and until it does, a later flush tries
            // them once more, finds them and remembers them here.
            foreach (var account in accounts)
            {
                if (!created.Contains(account))
                {
                    _existing.Add(account);
                }
            }
        }
    }

    /// <summary>The accounts of <paramref name="usage"/> not known to exist, each with its first window's start; null when none.</summary>
    private Dictionary<string, DateTimeOffset>? Missing(IReadOnlyList<UsageWindow> usage)
    {
        Dictionary<string, DateTimeOffset>? missing = null;
        lock (_lock)
        {
            if (directory is not null && directory.Version != _existingVersion)
            {
                _existing.Clear();
                _existingVersion = directory.Version;
            }

            for (var i = 0; i < usage.Count; i++)
            {
                var window = usage[i];
                if (_existing.Contains(window.Account) || directory?.Contains(window.Account) == true)
                {
                    continue;
                }

                missing ??= new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
                if (!missing.TryGetValue(window.Account, out var first) || window.Start < first)
                {
                    missing[window.Account] = window.Start;
                }
            }
        }

        return missing;
    }

    private static async Task SetFirstUsageAsync(NpgsqlConnection connection, NpgsqlTransaction tx, bool on, CancellationToken cancellationToken)
    {
        await using var set = new NpgsqlCommand("SELECT set_config('metering.first_usage_accounts', $1, true)", connection, tx);
        set.Parameters.Add(new() { Value = on ? "on" : "off", NpgsqlDbType = NpgsqlDbType.Text });
        await set.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
