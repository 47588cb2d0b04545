using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using StandardWebhooks;

namespace MemoryService.Webhooks;

/// <summary>
/// Posts due deliveries with Webhooks:Workers loops on this replica, signed the Standard Webhooks way (webhook-id is the
/// event id, the same on every retry), and runs the expiry sweep and the clean-up every Webhooks:SweepIntervalSeconds.
/// A 2xx within Webhooks:TimeoutSeconds is delivered; anything else is a failed attempt, retried with backoff.
/// </summary>
public sealed class WebhookDispatcher(WebhookDeliveries deliveries, IHttpClientFactory httpFactory, IOptions<WebhooksOptions> options,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";

    private WebhooksOptions O => options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, O.Workers).Select(_ => Task.Run(() => DeliverLoopAsync(stoppingToken), stoppingToken))
            .Append(Task.Run(() => SweepLoopAsync(stoppingToken), stoppingToken)));

    private async Task DeliverLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var delivery = await deliveries.ClaimAsync(stoppingToken);
                if (delivery is null) await Task.Delay(TimeSpan.FromSeconds(O.PollIntervalSeconds), stoppingToken);
                else await SendAsync(delivery, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Webhook deliveries could not be claimed: {Message}", ex.Message);
                if (!await PauseAsync(O.PollIntervalSeconds, stoppingToken)) return;
            }
        }
    }

    private async Task SendAsync(ClaimedDelivery d, CancellationToken stoppingToken)
    {
        var timeout = TimeSpan.FromSeconds(O.TimeoutSeconds);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        attempt.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        int? status = null;
        string? error;
        try
        {
            using var request = Sign(d, DateTimeOffset.UtcNow);
            using var response = await httpFactory.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                await deliveries.SucceededAsync(d, status.Value, Elapsed(clock), CancellationToken.None);
                return;
            }
            error = $"The endpoint answered {status}.";
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await deliveries.ReleaseAsync(d, CancellationToken.None);
            return;
        }
        catch (OperationCanceledException)
        {
            error = $"No response within {timeout.TotalSeconds:0.#} s.";
        }
        catch (Exception ex)
        {
            error = ex.InnerException is { } inner && !ex.Message.Contains(inner.Message) ? $"{ex.Message} ({inner.Message})" : ex.Message;
        }
        logger.LogInformation("Webhook delivery {DeliveryId} attempt {Attempt} failed: {Error}", d.Id, d.Attempts, error);
        await deliveries.FailedAsync(d, status, Elapsed(clock), error, CancellationToken.None);
    }

    /// <summary>The POST with the Standard Webhooks headers: the signature is v1,base64(HMAC-SHA256(secret, "id.timestamp.body")).</summary>
    public static HttpRequestMessage Sign(ClaimedDelivery d, DateTimeOffset timestamp)
    {
        var id = d.EventId.ToString();
        var request = new HttpRequestMessage(HttpMethod.Post, d.Url) { Content = new StringContent(d.Body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString());
        request.Headers.TryAddWithoutValidation("webhook-signature", new StandardWebhook(d.Secret).Sign(id, timestamp, d.Body));
        request.Headers.UserAgent.ParseAdd("MemoryService-Webhooks/1.0");
        return request;
    }

    private async Task SweepLoopAsync(CancellationToken stoppingToken)
    {
        while (await PauseAsync(O.SweepIntervalSeconds, stoppingToken))
        {
            try
            {
                var announced = await deliveries.SweepExpiredAsync(stoppingToken);
                if (announced > 0) logger.LogInformation("Announced {Count} expired memories", announced);
                await deliveries.PurgeAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Webhook sweep failed: {Message}", ex.Message);
            }
        }
    }

    private static async Task<bool> PauseAsync(double seconds, CancellationToken ct)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static int Elapsed(Stopwatch clock) => (int)Math.Min(int.MaxValue, clock.ElapsedMilliseconds);
}
