using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>
/// Writes the final statements of a period (<c>statements</c>), inside the period-close transaction: each account's
/// draft, built under the close's exclusive lock, becomes its final statement unchanged (same lines, same hash). Rows
/// are never updated or deleted (a trigger refuses it).
/// </summary>
public static class FinalStatementStore
{
    /// <summary>Accounts built and written per round trip.</summary>
    public const int PageSize = 1000;

    /// <summary>
    /// Builds the statement of every account in <paramref name="period"/> that has no final statement yet and writes
    /// it as final: the accounts without a period rule of their own, or those of <paramref name="group"/> (then
    /// <paramref name="period"/> is the group's). Returns how many were written.
    /// </summary>
    public static async Task<int> FinalizeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, BillingPeriod period, BillingPeriodRule rule, PriceCatalog prices,
        CancellationToken cancellationToken, PeriodRuleGroup? group = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var written = 0;
        string? after = null;
        while (true)
        {
            var page = await StatementAssembler.BuildAsync(connection, tx, period, rule, prices, null, after, PageSize, cancellationToken, group).ConfigureAwait(false);
            if (page.Count == 0)
            {
                return written;
            }

            var drafts = page.Where(s => !s.Final).ToList();
            if (drafts.Count > 0)
            {
                await using var insert = new NpgsqlCommand("""
                    INSERT INTO statements (account, period_start, period_end, content_hash, canonical, inputs)
                    SELECT a, $1, $2, h, c, i::jsonb FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS s(a, h, c, i)
                    """, connection, tx);
                insert.Parameters.Add(new() { Value = period.Start.ToUniversalTime() });
                insert.Parameters.Add(new() { Value = period.End.ToUniversalTime() });
                insert.Parameters.Add(new() { Value = drafts.Select(d => d.Statement.Account).ToArray() });
                insert.Parameters.Add(new() { Value = drafts.Select(d => d.Statement.ContentHash).ToArray() });
                insert.Parameters.Add(new() { Value = drafts.Select(d => StatementHash.CanonicalText(d.Statement)).ToArray() });
                insert.Parameters.Add(new() { Value = drafts.Select(d => d.Inputs.ToJson()).ToArray() });
                written += await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            after = page[^1].Statement.Account;
        }
    }
}
