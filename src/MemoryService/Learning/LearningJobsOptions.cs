using System.ComponentModel.DataAnnotations;

namespace MemoryService.Learning;

/// <summary>Section "Learning:Jobs": the durable queue behind chat's <c>learn: true</c> and any other background learning.</summary>
public sealed class LearningJobsOptions
{
    /// <summary>Jobs this replica runs at once; 0 runs none here (another replica does), enqueueing still works.</summary>
    [Range(0, 16)] public int Workers { get; set; } = 1;

    /// <summary>How often an idle worker looks for due jobs (an enqueue on this replica wakes it at once).</summary>
    [Range(0.05, 300)] public double PollIntervalSeconds { get; set; } = 2;

    /// <summary>Attempts before a job is left as failed with its last error.</summary>
    [Range(1, 100)] public int MaxAttempts { get; set; } = 5;

    /// <summary>Wait before the second attempt; doubled for each further one, up to <see cref="MaxRetryDelaySeconds"/>.</summary>
    [Range(0.01, 3600)] public double RetryDelaySeconds { get; set; } = 10;

    [Range(0.01, 86_400)] public double MaxRetryDelaySeconds { get; set; } = 600;

    /// <summary>One attempt is cancelled after this long and counts as failed.</summary>
    [Range(1, 3600)] public double TimeoutSeconds { get; set; } = 120;

    /// <summary>
    /// A claim is held for the timeout plus this long; a job whose worker died (kill -9, lost host) is claimed
    /// again by any replica once its lease has run out.
    /// </summary>
    [Range(0, 3600)] public double LeaseGraceSeconds { get; set; } = 30;

    /// <summary>Pending or running jobs one user may have; the next learning request is a 429.</summary>
    [Range(1, 100_000)] public int MaxPendingPerUser { get; set; } = 100;

    /// <summary>Pending or running jobs one tenant may have across its users.</summary>
    [Range(1, 10_000_000)] public int MaxPendingPerTenant { get; set; } = 10_000;

    /// <summary>Failed jobs stay listed this long, then are deleted.</summary>
    [Range(1, 24 * 365)] public double FailedRetentionHours { get; set; } = 168;
}
