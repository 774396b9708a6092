namespace Metering.Ledger.Corrections;

/// <summary>The result of <see cref="CorrectionRequest.Validate"/>: the request when valid, else every problem by field (the API's names).</summary>
public sealed record CorrectionValidation(CorrectionRequest? Request, IReadOnlyDictionary<string, string[]> Problems)
{
    /// <summary>True when <see cref="Request"/> is set and there is no problem.</summary>
    public bool IsValid => Request is not null && Problems.Count == 0;
}
