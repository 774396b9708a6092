using Metering.Rating.Invoicing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary><c>GET /v1/accounts/{account}/periods/{period}</c>: what invoicing reads, from the PostgreSQL ledger.</summary>
internal static class PeriodEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/periods/{period}", GetPeriod)
            .RequireAuthorization(ApiScopes.BillingRead)
            .WithName("GetAccountPeriod")
            .WithTags("billing")
            .WithSummary("Rated totals, adjustments and subtotals of one account's billing period; an invoice preview while the period is open (scope billing:read).")
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
        var usageCharged = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var end = statement.PeriodEnd;
        var closed = statement.Closed;
        foreach (var l in statement.Lines)
        {
            lines.Add(new PeriodLine(l.Sku, DecimalText.Quantity(l.Quantity), l.RecordCount, DecimalText.Money(l.Amount, l.Currency), l.Currency, l.PriceBook, l.PriceBookVersion, l.PriceBookHash));
            sums[l.Currency] = sums.GetValueOrDefault(l.Currency) + l.Amount;
            usageCharged[l.Currency] = usageCharged.GetValueOrDefault(l.Currency) + l.Amount;
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
        InvoicePreview? preview = null;
        if (!closed)
        {
            var previewLines = new List<InvoicePreviewLine>(lines.Count + adjustments.Count);
            foreach (var l in lines)
            {
                previewLines.Add(new InvoicePreviewLine("usage", l.Sku, $"{l.Sku}: {l.Quantity} ({l.PriceBook} {l.PriceBookVersion})", l.Quantity, l.Amount, l.Currency));
            }

            foreach (var a in adjustments)
            {
                previewLines.Add(new InvoicePreviewLine("adjustment", a.Sku, $"late usage of the period starting {a.OriginalPeriodStart:yyyy-MM-dd}: {a.Reference}", a.Quantity, a.Amount, a.Currency));
            }

            var previewSums = new SortedDictionary<string, decimal>(sums, StringComparer.Ordinal);
            if (options.Prices is { List: not null } prices)
            {
                // The true-up compares the commitment with the usage charged so far, so it shrinks as usage arrives.
                foreach (var line in PeriodChargeLines.Of(prices, account, start, c => usageCharged.GetValueOrDefault(c.Code)))
                {
                    var currency = line.Currency.Code;
                    var description = line.Kind == PeriodChargeLine.Fee
                        ? $"{line.FeeId} ({line.Book.Id} {line.Version.Version})"
                        : $"minimum commitment {line.Commitment} vs usage {line.UsageCharged} so far ({line.Book.Id} {line.Version.Version})";
                    previewLines.Add(new InvoicePreviewLine(line.Kind, "", description, "1", DecimalText.Money(line.Amount, currency), currency));
                    previewSums[currency] = previewSums.GetValueOrDefault(currency) + line.Amount;
                }
            }

            preview = new InvoicePreview(false, previewLines, previewSums.Select(s => new CurrencySubtotal(s.Key, DecimalText.Money(s.Value, s.Key))).ToList());
        }

        return TypedResults.Ok(new PeriodResponse(account, start, end, closed, lines, adjustments, subtotals, preview));
    }
}
