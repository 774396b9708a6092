using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;

namespace Metering.Rating.Statements;

/// <summary>
/// Everything <see cref="StatementBuilder.Build"/> needs for one (account, period) statement: the period as the
/// account's rule cut it, the account's <see cref="StatementTerms"/>, the per-SKU usage totals of the period (one per
/// SKU, any order), the adjustment lines already booked into the period (any order), and the price books. Nothing
/// else is read: the same input always builds the same statement, with the same content hash.
/// </summary>
public sealed record StatementInput(string Account, BillingPeriod Period, StatementTerms Terms, IReadOnlyList<SkuUsage> Usage, IReadOnlyList<AdjustmentLine> Adjustments, PriceCatalog Prices);
