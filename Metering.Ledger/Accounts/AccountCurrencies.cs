using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.Accounts;

/// <summary>
/// The billing currencies a flush rates in: the <c>accounts</c> rows of the accounts it books whose currency is not
/// the list book's (the others, and accounts without a row, are rated in the book's currency, which is the same),
/// read in the flush's transaction so a currency change commits either before the flush or after it.
/// (docs/pricebooks.md, "Currencies").
/// </summary>
public static class AccountCurrencies
{
    /// <summary>
    /// <paramref name="catalog"/> rating each of <paramref name="accounts"/> in its stored billing currency; the catalog
    /// itself when none of them has a currency other than the list book's (or there is no catalog).
    /// </summary>
    public static async Task<PriceCatalog?> ForAccountsAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, PriceCatalog? catalog, IReadOnlyCollection<string> accounts,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(accounts);
        if (catalog is null || accounts.Count == 0)
        {
            return catalog;
        }

        var currencies = new Dictionary<string, Currency>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT account, currency FROM accounts WHERE account = ANY($1) AND currency <> $2", connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = accounts as string[] ?? [.. accounts] });
        cmd.Parameters.Add(new NpgsqlParameter { Value = catalog.List?.Currency.Code ?? "" });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // The table's CHECK admits codes this build may not know: such an account is rated in a currency no book
            // prices (unpriced, flagged) rather than in the book's.
            var code = r.GetString(1).Trim();
            currencies[r.GetString(0)] = Currency.TryGet(code, out var currency) ? currency : new Currency(code, 2);
        }

        return currencies.Count == 0 ? catalog : catalog.WithAccountCurrencies(currencies);
    }
}
