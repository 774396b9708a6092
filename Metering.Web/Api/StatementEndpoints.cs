using Metering.Ledger.Accounts;
using Metering.Ledger.Statements;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// <c>GET /v1/accounts/{account}/statements/{period}</c>: the draft statement of one account and period, built by
/// <see cref="StatementBuilder"/> from the ledger's period totals and adjustments, the account's terms and the
/// server's price books (docs/statements.md). Final statements are not persisted yet, so every answer is a draft.
/// </summary>
internal static class StatementEndpoints
{
    /// <summary>The only status served until period close writes final statements.</summary>
    public const string Draft = "draft";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/statements/{period}", GetStatement)
            .RequireAuthorization(ApiScopes.BillingRead)
            .WithName("GetAccountStatement")
            .WithTags("billing")
            .WithSummary("The draft statement of one account's billing period: usage lines with tiers, fees with proration, the commitment, adjustments and totals (scope billing:read).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Results<Ok<StatementResponse>, ValidationProblem, ProblemHttpResult>> GetStatement(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string account, string period, CancellationToken cancellationToken)
    {
        // The server's rule, the one the engine books totals under: an account's own period rule is stored with its
        // terms but not applied until the engine reads the terms (docs/statements.md, "Not yet").
        var errors = AccountPeriodParameters.Check(account, period, options.BillingPeriods, mustStartPeriod: true, out var start, out var containing);
        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        var ledger = await PeriodStatementQuery.ReadAsync(db, account, start, cancellationToken).ConfigureAwait(false);
        var stored = await AccountStore.GetAsync(db, account, cancellationToken).ConfigureAwait(false);
        if (ledger.Lines.Count == 0 && ledger.Adjustments.Count == 0 && stored is null)
        {
            return ApiProblems.NotFound($"account '{account}' has no terms, no usage and no adjustment in the period starting {start:yyyy-MM-dd}");
        }

        // Without stored terms the account is billed as today's policy says: on the list book, subscribed from the
        // period's start (docs/api.md, "Accounts").
        var terms = stored is { Terms: var t }
            ? new StatementTerms(t.Start, t.End, t.Currency.Code)
            : new StatementTerms(containing.Start);
        var usage = ledger.Lines.Select(l => new SkuUsage(l.Sku, l.Quantity, l.RecordCount)).ToList();
        var adjustments = ledger.Adjustments.Select(a => new AdjustmentLine(
            AdjustmentLine.LateUsage, $"period:{a.OriginalPeriodStart:yyyy-MM-dd}", a.Sku, a.Quantity, a.Amount, a.Currency.Trim(), $"late usage of the period starting {a.OriginalPeriodStart:yyyy-MM-dd} ({a.Reference})")).ToList();
        var statement = StatementBuilder.Build(new StatementInput(account, containing, terms, usage, adjustments, options.Prices ?? new PriceCatalog(null, [])));
        return TypedResults.Ok(Response(statement, ledger.Closed));
    }

    private static StatementResponse Response(Statement s, bool periodClosed)
    {
        string Money(decimal value, string? currency) => currency is null ? DecimalText.Quantity(value) : DecimalText.Money(value, currency);
        var usage = s.Usage.Select(u => new StatementUsageLineResponse(
            u.Sku, u.Priced, u.UnpricedReason, DecimalText.Quantity(u.RecordedQuantity), u.RecordedUnit, DecimalText.Quantity(u.ConvertedQuantity),
            DecimalText.Quantity(u.IncludedUnitsApplied), DecimalText.Quantity(u.BillableQuantity), u.BillableUnit, u.RecordCount,
            u.Tiers.Select(t => new StatementTierResponse(t.Tier, DecimalText.Quantity(t.From), t.UpTo is { } up ? DecimalText.Quantity(up) : null,
                DecimalText.Quantity(t.Quantity), DecimalText.Quantity(t.UnitPrice), DecimalText.Quantity(t.FlatFee), DecimalText.Quantity(t.Amount))).ToList(),
            DecimalText.Quantity(u.ExactAmount), Money(u.Amount, u.Currency), u.Currency, u.PriceBook, u.PriceBookVersion, u.PriceBookHash)).ToList();
        var fees = s.Fees.Select(f => new StatementFeeLineResponse(f.FeeId, f.ServiceStart, f.ServiceEnd, DecimalText.Quantity(f.ProrationFactor),
            Money(f.Amount, f.Currency), f.Currency, f.PriceBook, f.PriceBookVersion, f.PriceBookHash)).ToList();
        var commitments = s.Commitments.Select(c => new StatementCommitmentResponse(Money(c.Committed, c.Currency), Money(c.UsageCharged, c.Currency),
            Money(c.TrueUp, c.Currency), c.Currency, c.PriceBook, c.PriceBookVersion, c.PriceBookHash)).ToList();
        var adjustments = s.Adjustments.Select(a => new StatementAdjustmentResponse(a.Kind, a.Reference, a.Sku, a.Quantity is { } q ? DecimalText.Quantity(q) : null,
            Money(a.Amount, a.Currency), a.Currency, a.Reason)).ToList();
        var totals = s.Totals.Select(t => new StatementTotalResponse(t.Currency, Money(t.Usage, t.Currency), Money(t.Fees, t.Currency),
            Money(t.Commitments, t.Currency), Money(t.Adjustments, t.Currency), Money(t.Total, t.Currency))).ToList();
        return new StatementResponse(s.Account, s.Period.Start, s.Period.End, Draft, periodClosed, s.ContentHash, usage, fees, commitments, adjustments, totals);
    }
}
