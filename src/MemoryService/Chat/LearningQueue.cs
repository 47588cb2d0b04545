using System.Threading.Channels;
using MemoryService.Learning;

namespace MemoryService.Chat;

/// <summary>A conversation exchange to learn from once the reply has gone out; relative dates resolve in <see cref="TimeZone"/> (IANA, null for UTC).</summary>
public sealed record LearningJob(Guid TenantId, string UserId, IReadOnlyList<ConversationMessage> Messages, DateTimeOffset ObservedAt, string Actor,
    string? TimeZone = null);

/// <summary>
/// Learning runs off the response path: chat only enqueues (never waits), <see cref="LearningWorker"/> drains.
/// Bounded, so a slow learner costs learned memories, not memory; a dropped job is logged.
/// </summary>
public sealed class LearningQueue(ILogger<LearningQueue> logger)
{
    public const int Capacity = 1000;

    private readonly Channel<LearningJob> _channel = Channel.CreateBounded<LearningJob>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    public ChannelReader<LearningJob> Reader => _channel.Reader;

    public void Enqueue(LearningJob job)
    {
        if (!_channel.Writer.TryWrite(job))
            logger.LogWarning("Learning queue full ({Capacity} exchanges waiting); this exchange will not be learned", Capacity);
    }
}

/// <summary>Runs <see cref="IConversationLearner"/> on queued exchanges, one at a time, each in its own scope.</summary>
public sealed class LearningWorker(LearningQueue queue, IServiceScopeFactory scopes, ILogger<LearningWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var job in queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                // The learner ships separately; until it is registered, chat still works and says so in the log.
                var learner = scope.ServiceProvider.GetService<IConversationLearner>();
                if (learner is null)
                {
                    logger.LogWarning("learn=true but no IConversationLearner is registered; the exchange was not learned");
                    continue;
                }
                var outcome = await learner.LearnAsync(job.TenantId, job.UserId, job.Messages,
                    TimeZones.LocalTime(job.ObservedAt, job.TimeZone), dryRun: false, job.Actor, stoppingToken);
                logger.LogInformation("Learned from a chat exchange: {Decisions} decision(s), {Failed} failure(s)",
                    outcome.Decisions.Count, outcome.Failed.Count);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Learning from a chat exchange failed");
            }
        }
    }
}
