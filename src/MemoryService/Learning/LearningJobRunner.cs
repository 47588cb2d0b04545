using Microsoft.Extensions.Options;

namespace MemoryService.Learning;

/// <summary>
/// Runs due <see cref="LearningJobs"/> on this replica with Learning:Jobs:Workers loops, each job in its own scope
/// and under its own timeout. A job is deleted in the learner's write transaction (only while this claim holds it),
/// so it is learned once; a failure is recorded for a retry; on shutdown a running job is handed back.
/// </summary>
public sealed class LearningJobRunner(LearningJobs jobs, IServiceScopeFactory scopes, IOptions<LearningJobsOptions> options,
    ILogger<LearningJobRunner> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.Workers).Select(_ => Task.Run(() => LoopAsync(stoppingToken), stoppingToken)));

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var job = await jobs.ClaimAsync(stoppingToken);
                if (job is null) await jobs.WaitForWorkAsync(stoppingToken);
                else await RunAsync(job, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is down or similar: wait a poll interval rather than spin.
                logger.LogWarning("Learning jobs could not be claimed: {Message}", ex.Message);
                try { await Task.Delay(TimeSpan.FromSeconds(options.Value.PollIntervalSeconds), stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task RunAsync(ClaimedLearningJob job, CancellationToken stoppingToken)
    {
        var timeout = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        attempt.CancelAfter(timeout);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var learner = scope.ServiceProvider.GetRequiredService<IConversationLearner>();
            // ObservedAt keeps its offset; the job's time zone (if any) decides which local day "tomorrow" is.
            var outcome = await learner.LearnAsync(job.TenantId, job.UserId, job.Messages, TimeZones.LocalTime(job.ObservedAt, job.TimeZone), dryRun: false, job.Actor,
                (conn, tx, ct) => LearningJobs.CompleteAsync(job, conn, tx, ct), attempt.Token, job.Conversation);
            // Nothing to write (no candidates) or discarded: the guard never deleted the row, so finish it here.
            await jobs.CompleteAsync(job, CancellationToken.None);
            logger.LogInformation("Learning job {JobId} done: {Decisions} decision(s), {Failed} failure(s){Discarded}", job.Id,
                outcome.Decisions.Count, outcome.Failed.Count, outcome.Discarded ? ", discarded" : "");
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await jobs.ReleaseAsync(job, CancellationToken.None);
        }
        catch (Exception ex)
        {
            var error = attempt.IsCancellationRequested ? $"The attempt timed out after {timeout.TotalSeconds:0.#} s." : ex.Message;
            logger.LogWarning("Learning job {JobId} attempt {Attempt} failed: {Error}", job.Id, job.Attempts, error);
            await jobs.FailAsync(job, error, CancellationToken.None);
        }
    }
}
