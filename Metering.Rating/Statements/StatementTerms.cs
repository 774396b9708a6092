namespace Metering.Rating.Statements;

/// <summary>
/// The account terms a statement is built under: the subscription is active during
/// [<paramref name="SubscriptionStart"/>, <paramref name="SubscriptionEnd"/>) (null end = open-ended), which is what
/// fees are charged (and prorated) over; <paramref name="BillingCurrency"/> is the account's invoicing currency when it
/// has one (ISO 4217 code). It is carried on the statement and hashed, and selects the currency every line is priced
/// in (a price's currency option; a SKU without one is unpriced, never converted: docs/pricebooks.md "Currencies").
/// </summary>
public sealed record StatementTerms(DateTimeOffset SubscriptionStart, DateTimeOffset? SubscriptionEnd = null, string? BillingCurrency = null);
