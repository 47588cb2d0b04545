using System.Net.Sockets;
using Npgsql;

namespace MemoryService.Hosting;

/// <summary>
/// Tells a database that cannot be reached from a statement that failed, and logs an outage once: the
/// first failure with its stack, then nothing per request until a connection opens again, so a down
/// database does not fill the log with one stack trace per request.
/// </summary>
public sealed class DatabaseOutage(ILogger<DatabaseOutage> logger, TimeProvider clock)
{
    private long _failures;
    private DateTimeOffset _since;

    public bool IsDown => Interlocked.Read(ref _failures) > 0;

    /// <summary>
    /// True for connection-level failures however EF Core or Npgsql wrap them (EF's "likely due to a transient
    /// failure" InvalidOperationException, a retry-limit exception, Npgsql's socket/IO/timeout errors) and for
    /// the server's own "cannot serve you now" states; false for everything a statement itself got wrong.
    /// </summary>
    public static bool IsConnectionFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                // The server answered: only its connection/shutdown/capacity states are an outage.
                case PostgresException pg:
                    return pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                        || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                            or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections;
                case NpgsqlException { IsTransient: true }:
                case NpgsqlException { InnerException: SocketException or IOException or TimeoutException }:
                    return true;
                case SocketException when exception is NpgsqlException or InvalidOperationException:
                    return true;
            }
        }
        return false;
    }

    /// <summary>Counts a request that failed on the connection; logs only the first of an outage.</summary>
    public void Failed(Exception exception)
    {
        if (Interlocked.Increment(ref _failures) != 1) return;
        _since = clock.GetUtcNow();
        logger.LogError(exception, "Database unavailable; requests answer 503 until a connection succeeds (further failures are not logged)");
    }

    /// <summary>A connection opened: ends the outage, saying how long it lasted and how many requests it failed.</summary>
    public void Succeeded()
    {
        if (Interlocked.Read(ref _failures) == 0) return;
        var failed = Interlocked.Exchange(ref _failures, 0);
        if (failed > 0)
            logger.LogWarning("Database reachable again after {Seconds:0.0} s; {Failed} requests were answered 503",
                (clock.GetUtcNow() - _since).TotalSeconds, failed);
    }
}
