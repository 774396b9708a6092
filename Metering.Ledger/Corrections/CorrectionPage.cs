namespace Metering.Ledger.Corrections;

/// <summary>
/// One page of <see cref="CorrectionStore.ListAsync"/>, newest first. <see cref="NextBefore"/> is the id of the page's
/// last (oldest) correction when older ones follow (pass it as <c>before</c>), null on the last page.
/// </summary>
public sealed record CorrectionPage(IReadOnlyList<StoredCorrection> Corrections, long? NextBefore);
