using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Accounts;

/// <summary>
/// The <c>accounts</c> table (migration 0007) and its audit, <c>account_changes</c>. Writes are idempotent: setting the
/// terms an account already has writes nothing; different terms replace them in one transaction that also keeps the
/// previous terms, the actor and the reason. Thread-safe (every call uses its own connection).
/// </summary>
public static class AccountStore
{
    // Raised by the trigger of migration 0011 when a billed account's anchor day or time zone would change.
    private const string PeriodRuleInUseSqlState = "MT001";

    // Raised by the trigger of migration 0018 when the currency of an account with usage in an open period would change.
    private const string CurrencyInUseSqlState = "MT002";

    private const string Columns = "account, currency, list_book, contract_book, subscription_start, subscription_end, anchor_day, time_zone, created_at, updated_at";

    // The terms as the audit keeps them, with the API's field names ({0}: the row's alias); FirstUsageAccounts too.
    internal const string TermsJson = """
        jsonb_build_object('currency', {0}.currency, 'list_book', {0}.list_book, 'contract_book', {0}.contract_book,
          'start', {0}.subscription_start, 'end', {0}.subscription_end, 'anchor_day', {0}.anchor_day, 'time_zone', {0}.time_zone)
        """;

    /// <summary>Longest actor recorded; longer names are cut.</summary>
    public const int MaxActorLength = 200;

    /// <summary>
    /// Creates the account, replaces its terms, or does nothing when <paramref name="terms"/> equal the stored ones.
    /// <paramref name="actor"/> (who asked; cut to <see cref="MaxActorLength"/>) and <paramref name="reason"/> go into
    /// the audit row of a create or an update. Concurrent writers of one account are serialised by its row lock.
    /// </summary>
    public static async Task<AccountWrite> SetAsync(NpgsqlDataSource db, AccountTerms terms, string actor, string? reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentException.ThrowIfNullOrEmpty(actor);
        if (reason is not null && AccountTerms.ReasonProblem(reason) is { } reasonProblem)
        {
            throw new ArgumentException("the reason " + reasonProblem, nameof(reason));
        }

        actor = actor.Length > MaxActorLength ? actor[..MaxActorLength] : actor;
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Insert first: a new account needs no lock, and a racing writer's row makes this a no-op we then compare with.
        await using (var insert = new NpgsqlCommand($"""
            WITH inserted AS (
              INSERT INTO accounts (account, currency, list_book, contract_book, subscription_start, subscription_end, anchor_day, time_zone)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
              ON CONFLICT (account) DO NOTHING
              RETURNING *),
            audit AS (
              INSERT INTO account_changes (account, change, actor, reason, previous, terms)
              SELECT i.account, 'created', $9, $10, NULL, {string.Format(System.Globalization.CultureInfo.InvariantCulture, TermsJson, "i")} FROM inserted i)
            SELECT {Columns} FROM inserted
            """, connection, tx))
        {
            AddTerms(insert, terms);
            AddAudit(insert, actor, reason);
            StoredAccount? created;
            try
            {
                created = await ReadOneAsync(insert, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PeriodRuleInUseSqlState)
            {
                throw new PeriodRuleInUseException(terms.Account);
            }
            catch (PostgresException e) when (e.SqlState == CurrencyInUseSqlState)
            {
                throw new CurrencyInUseException(terms.Account, terms.Currency.Code, OpenPeriodOf(e));
            }

            if (created is not null)
            {
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                return new AccountWrite(AccountWriteStatus.Created, created);
            }
        }

        StoredAccount current;
        await using (var select = new NpgsqlCommand($"SELECT {Columns} FROM accounts WHERE account = $1 FOR UPDATE", connection, tx))
        {
            select.Parameters.Add(new() { Value = terms.Account, NpgsqlDbType = NpgsqlDbType.Text });
            current = await ReadOneAsync(select, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"account '{terms.Account}' neither inserted nor found; accounts are never deleted");
        }

        if (current.Terms == terms)
        {
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new AccountWrite(AccountWriteStatus.Unchanged, current);
        }

        // Every sub-statement sees the snapshot before the update, so 'old' holds the previous terms.
        await using var update = new NpgsqlCommand($"""
            WITH old AS (SELECT * FROM accounts WHERE account = $1),
            updated AS (
              UPDATE accounts a SET currency = $2, list_book = $3, contract_book = $4, subscription_start = $5, subscription_end = $6,
                anchor_day = $7, time_zone = $8, updated_at = now()
              WHERE a.account = $1
              RETURNING a.*),
            audit AS (
              INSERT INTO account_changes (account, change, actor, reason, previous, terms)
              SELECT u.account, 'updated', $9, $10, {string.Format(System.Globalization.CultureInfo.InvariantCulture, TermsJson, "o")},
                {string.Format(System.Globalization.CultureInfo.InvariantCulture, TermsJson, "u")}
              FROM updated u, old o)
            SELECT {Columns} FROM updated
            """, connection, tx);
        AddTerms(update, terms);
        AddAudit(update, actor, reason);
        StoredAccount changed;
        try
        {
            changed = await ReadOneAsync(update, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"account '{terms.Account}' vanished while its row was locked");
        }
        catch (PostgresException e) when (e.SqlState == PeriodRuleInUseSqlState)
        {
            throw new PeriodRuleInUseException(terms.Account);
        }
        catch (PostgresException e) when (e.SqlState == CurrencyInUseSqlState)
        {
            throw new CurrencyInUseException(terms.Account, terms.Currency.Code, OpenPeriodOf(e));
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new AccountWrite(AccountWriteStatus.Updated, changed);
    }

    /// <summary>The account's row, or null when it has none.</summary>
    public static async Task<StoredAccount?> GetAsync(NpgsqlDataSource db, string account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrEmpty(account);
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM accounts WHERE account = $1");
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadOneAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Up to <paramref name="limit"/> (1-10,000) accounts after <paramref name="after"/> (null: from the first), in
    /// bytewise order of the account id (keyset pagination on the primary key: a page costs the same wherever it is,
    /// and accounts created between pages are neither skipped nor repeated when they sort after the cursor).
    /// </summary>
    public static async Task<AccountPage> ListAsync(NpgsqlDataSource db, string? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var cmd = db.CreateCommand($"""
            SELECT {Columns} FROM accounts
            WHERE $1::text IS NULL OR account > $1::text COLLATE "C"
            ORDER BY account LIMIT $2
            """);
        cmd.Parameters.Add(new() { Value = (object?)after ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        var accounts = new List<StoredAccount>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            accounts.Add(Read(reader));
        }

        if (accounts.Count <= limit)
        {
            return new AccountPage(accounts, null);
        }

        accounts.RemoveAt(limit);
        return new AccountPage(accounts, accounts[^1].Terms.Account);
    }

    /// <summary>The audited changes of <paramref name="account"/>, oldest first.</summary>
    public static async Task<IReadOnlyList<AccountChange>> ChangesAsync(NpgsqlDataSource db, string account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("""
            SELECT id, account, changed_at, change, actor, reason, previous::text, terms::text
            FROM account_changes WHERE account = $1 ORDER BY id
            """);
        cmd.Parameters.Add(new() { Value = account, NpgsqlDbType = NpgsqlDbType.Text });
        var changes = new List<AccountChange>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new AccountChange(reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7)));
        }

        return changes;
    }

    // The trigger ends its message with the period (Npgsql redacts DETAIL unless the connection string asks for it).
    private static string? OpenPeriodOf(PostgresException e) =>
        System.Text.RegularExpressions.Regex.Match(e.MessageText, @"open billing period starting (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ): its currency cannot change to [A-Z]{3} until that period is closed$") is { Success: true } m
            ? m.Groups[1].Value
            : null;

    private static void AddTerms(NpgsqlCommand cmd, AccountTerms terms)
    {
        cmd.Parameters.Add(new() { Value = terms.Account, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = terms.Currency.Code, NpgsqlDbType = NpgsqlDbType.Char });
        cmd.Parameters.Add(new() { Value = terms.ListBook, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)terms.ContractBook ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = terms.Start, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = (object?)terms.End ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = terms.AnchorDay is { } day ? (short)day : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Smallint });
        cmd.Parameters.Add(new() { Value = (object?)terms.TimeZone ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private static void AddAudit(NpgsqlCommand cmd, string actor, string? reason)
    {
        cmd.Parameters.Add(new() { Value = actor, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    private static async Task<StoredAccount?> ReadOneAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    // Rows were validated on the way in; the constructor re-checks the invariants, so a row written around the store
    // that breaks them fails loudly here instead of billing on it.
    private static StoredAccount Read(NpgsqlDataReader reader) =>
        new(new AccountTerms(reader.GetString(0), Currency.TryGet(reader.GetString(1), out var currency) ? currency
                : throw new InvalidDataException($"account '{reader.GetString(0)}' has currency '{reader.GetString(1)}', which is not a known ISO 4217 code; correct it with metering account set"),
                reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetInt16(6),
                reader.IsDBNull(7) ? null : reader.GetString(7)),
            reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9));
}
