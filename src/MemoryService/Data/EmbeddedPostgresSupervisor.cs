using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Data;

/// <summary>
/// Watches the embedded postmaster: when it dies, /health/ready reports 503 and the server is started again
/// (a bounded number of attempts with growing pauses, each logged). If it cannot come back the application
/// stops with exit code 1, so the process supervisor restarts the whole service.
/// </summary>
public sealed class EmbeddedPostgresSupervisor(
    DatabaseEndpoint endpoint,
    NpgsqlDataSource dataSource,
    IOptions<StorageOptions> storage,
    IHostApplicationLifetime lifetime,
    ILogger<EmbeddedPostgresSupervisor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!endpoint.IsEmbedded) return;
        var options = storage.Value;
        var poll = TimeSpan.FromMilliseconds(options.SupervisePollMilliseconds);
        using var timer = new PeriodicTimer(poll);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (endpoint.Embedded is not { } pg || pg.IsServerRunning()) continue;
            endpoint.EmbeddedDown = true;
            var downSince = DateTimeOffset.UtcNow;
            logger.LogError("Embedded PostgreSQL server exited; restarting it (up to {Attempts} attempts)", options.RestartAttempts);
            if (await RestartAsync(pg, options, stoppingToken))
            {
                // Pooled connections to the dead server are broken: drop them rather than fail a request each.
                dataSource.Clear();
                endpoint.EmbeddedDown = false;
                logger.LogWarning("Embedded PostgreSQL server is back after {Seconds:0.0} s", (DateTimeOffset.UtcNow - downSince).TotalSeconds);
                continue;
            }
            if (stoppingToken.IsCancellationRequested) return;
            logger.LogCritical("Embedded PostgreSQL server could not be restarted after {Attempts} attempts; stopping the service", options.RestartAttempts);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }
    }

    private async Task<bool> RestartAsync(EmbeddedPostgres pg, StorageOptions options, CancellationToken ct)
    {
        var pause = TimeSpan.FromSeconds(1);
        for (var attempt = 1; attempt <= options.RestartAttempts && !ct.IsCancellationRequested; attempt++)
        {
            try
            {
                await Task.Run(() => pg.Restart(TimeSpan.FromSeconds(options.StartTimeoutSeconds)), ct);
                logger.LogWarning("Embedded PostgreSQL server restarted (attempt {Attempt})", attempt);
                return true;
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
                logger.LogError(ex, "Restarting the embedded PostgreSQL server failed (attempt {Attempt} of {Attempts})", attempt, options.RestartAttempts);
            }
            try { await Task.Delay(pause, ct); } catch (OperationCanceledException) { return false; }
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
        return false;
    }
}
