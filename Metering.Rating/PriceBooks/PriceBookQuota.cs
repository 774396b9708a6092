namespace Metering.Rating.PriceBooks;

/// <summary>
/// A quota configured in a price book's <c>quotas</c> section (docs/pricebooks.md): crossing <see cref="Threshold"/> in a
/// billing period raises one alert. <see cref="Sku"/> is set for quantity quotas only; <see cref="Currency"/> (the
/// book's) for amount quotas only.
/// </summary>
public sealed record PriceBookQuota(string Account, string? Sku, QuotaMetric Metric, decimal Threshold, string? Currency);
