using System.ComponentModel.DataAnnotations;

namespace MemoryService.Webhooks;

/// <summary>Section "Webhooks": where events may be sent, how hard delivery tries, and the bounds on what is kept.</summary>
public sealed class WebhooksOptions
{
    /// <summary>
    /// Allow endpoints on loopback, private, link-local (cloud metadata) and other non-public addresses. Off by
    /// default: a tenant key must not be able to make the service call into its own network.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Endpoints one tenant may register.</summary>
    [Range(1, 1000)] public int MaxWebhooksPerTenant { get; set; } = 20;

    /// <summary>A payload larger than this is sent with its data cut to the ids (data.truncated = true).</summary>
    [Range(1024, 1_048_576)] public int MaxPayloadBytes { get; set; } = 65_536;

    /// <summary>Delivery loops on this replica; 0 delivers nothing here (another replica does), events are still recorded.</summary>
    [Range(0, 64)] public int Workers { get; set; } = 2;

    /// <summary>How often an idle worker looks for due deliveries.</summary>
    [Range(0.05, 300)] public double PollIntervalSeconds { get; set; } = 1;

    /// <summary>One POST is abandoned after this long and counts as a failed attempt.</summary>
    [Range(0.1, 300)] public double TimeoutSeconds { get; set; } = 10;

    /// <summary>Wait before the second attempt; doubled for each further one, up to <see cref="MaxRetryDelaySeconds"/>.</summary>
    [Range(0.01, 3600)] public double RetryDelaySeconds { get; set; } = 5;

    [Range(0.01, 86_400)] public double MaxRetryDelaySeconds { get; set; } = 3600;

    /// <summary>A delivery still failing this long after its event is marked failed and retried no more.</summary>
    [Range(0.1, 7 * 86_400)] public double RetryPeriodSeconds { get; set; } = 86_400;

    /// <summary>Failed attempts in a row (any events) after which the endpoint is disabled and its queue marked failed.</summary>
    [Range(1, 100_000)] public int DisableAfterConsecutiveFailures { get; set; } = 50;

    /// <summary>How often the expiry sweep and the clean-up of old deliveries run.</summary>
    [Range(0.05, 3600)] public double SweepIntervalSeconds { get; set; } = 30;

    /// <summary>Delivered and failed deliveries (and their events) are kept this long for GET .../deliveries.</summary>
    [Range(0.01, 24 * 365)] public double RetentionHours { get; set; } = 168;
}
