namespace Metering.Ledger.DeadLetters;

/// <summary>A row of the <c>dead_letters</c> outbox not yet produced to the dead-letter topic, as a <see cref="DeadLetterClaim"/> holds it.</summary>
/// <param name="Id">The row's id (what <see cref="DeadLetterClaim.MarkPublishedAsync"/> marks).</param>
/// <param name="Partition">The source partition of the rejected record.</param>
/// <param name="Offset">Its offset in that partition.</param>
/// <param name="Reason">The reject reason.</param>
/// <param name="Detail">What was wrong, for people.</param>
/// <param name="Raw">The record's bytes as consumed.</param>
public sealed record UnpublishedDeadLetter(long Id, int Partition, long Offset, string Reason, string Detail, byte[] Raw);
