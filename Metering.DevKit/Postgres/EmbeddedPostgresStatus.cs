namespace Metering.DevKit.Postgres;

/// <summary>
/// What <see cref="EmbeddedPostgres.StatusAsync"/> found, without starting or creating anything: whether a cluster
/// exists, whether its server runs, where it lives and on which port (0 when not initialized).
/// </summary>
public sealed record EmbeddedPostgresStatus(bool Initialized, bool Running, string DataDirectory, int Port);
