using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary><c>GET /v1/accounts/{account}/periods/{period}</c>: the ledger's running view of a period (the statement is what invoicing reads).</summary>
internal static class PeriodEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/periods/{period}", GetPeriod)
            .RequireAuthorization(ApiScopes.BillingRead)
            .WithName("GetAccountPeriod")
            .WithTags("billing")
            .WithSummary("The ledger's running totals, late-usage rows and subtotals of one account's billing period; not an invoice: the statement is (scope billing:read).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Results<Ok<PeriodResponse>, ValidationProblem, ProblemHttpResult>> GetPeriod(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string account, string period, CancellationToken cancellationToken)
    {
        // Resolved under the server's rule even though the reads below key on the start only: the invoice preview
        // computes the period's end, which must not overflow.
        var errors = AccountPeriodParameters.Check(account, period, options.BillingPeriods, mustStartPeriod: false, out var start, out _);
        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        var statement = await Metering.Ledger.Statements.PeriodStatementQuery.ReadAsync(db, account, start, cancellationToken).ConfigureAwait(false);
        var lines = new List<PeriodLine>(statement.Lines.Count);
        var adjustments = new List<PeriodAdjustment>(statement.Adjustments.Count);
        var sums = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        var end = statement.PeriodEnd;
        var closed = statement.Closed;
        foreach (var l in statement.Lines)
        {
            lines.Add(new PeriodLine(l.Sku, StatementResponses.DimensionsOf(l.Group), DecimalText.Quantity(l.Quantity), l.RecordCount, DecimalText.Money(l.Amount, l.Currency), l.Currency, l.PriceBook, l.PriceBookVersion, l.PriceBookHash));
            sums[l.Currency] = sums.GetValueOrDefault(l.Currency) + l.Amount;
        }

        foreach (var a in statement.Adjustments)
        {
            adjustments.Add(new PeriodAdjustment(a.Id, a.Sku, a.OriginalPeriodStart, DecimalText.Quantity(a.Quantity), a.RecordCount, DecimalText.Money(a.Amount, a.Currency), a.Currency, a.PriceBookHash, a.Reference));
            sums[a.Currency] = sums.GetValueOrDefault(a.Currency) + a.Amount;
        }

        if (lines.Count == 0 && adjustments.Count == 0)
        {
            return ApiProblems.NotFound($"the ledger has no usage and no adjustment for account '{account}' in the period starting {start:yyyy-MM-dd}");
        }

        var subtotals = sums.Select(s => new CurrencySubtotal(s.Key, DecimalText.Money(s.Value, s.Key))).ToList();
        return TypedResults.Ok(new PeriodResponse(account, start, end, closed, lines, adjustments, subtotals));
    }
}
