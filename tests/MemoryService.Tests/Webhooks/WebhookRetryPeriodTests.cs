using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Webhooks;

/// <summary>A one-second retry period and half-second timeout; endpoints are not disabled by these few failures.</summary>
public sealed class ShortRetryWebhookFactory : WebhookFactory
{
    public ShortRetryWebhookFactory()
    {
        Settings["Webhooks:MaxRetryDelaySeconds"] = "0.3";
        Settings["Webhooks:RetryPeriodSeconds"] = "1";
        Settings["Webhooks:TimeoutSeconds"] = "0.5";
        Settings["Webhooks:DisableAfterConsecutiveFailures"] = "1000";
    }
}

/// <summary>Retries stop after Webhooks:RetryPeriodSeconds: the delivery is marked failed and the user's next events go on.</summary>
public sealed class WebhookRetryPeriodTests(ShortRetryWebhookFactory factory) : IClassFixture<ShortRetryWebhookFactory>, IAsyncLifetime
{
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task DeliveryStillFailingAfterTheRetryPeriodIsMarkedFailedAndTheNextEventGoesOn()
    {
        using var t = await factory.NewTenantAsync();
        var id = await SubscribeAsync(t, "/give-up");
        _receiver.IsDown = true;
        await t.Http.PostAsJsonAsync("/v1/users/patient/memories", new { content = "Waits for nothing" });

        var failed = await WebhookTests.WaitForDeliveryAsync(t, id, d => d.GetProperty("status").GetString() == "failed");
        Assert.True(failed.GetProperty("attempts").GetInt32() >= 2, failed.GetRawText());
        Assert.Equal(503, failed.GetProperty("status_code").GetInt32());
        Assert.Contains("503", failed.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("next_attempt_at").ValueKind);
        var webhook = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/webhooks/{id}"));
        Assert.True(webhook.GetProperty("enabled").GetBoolean());

        // The failed one no longer holds the user's lane: the next event is delivered.
        _receiver.IsDown = false;
        await t.Http.PostAsJsonAsync("/v1/users/patient/memories", new { content = "Tries again" });
        var delivered = Assert.Single(await _receiver.WaitForDeliveredAsync("/give-up", 1));
        Assert.Equal("Tries again", delivered.Json.GetProperty("data").GetProperty("content").GetString());
    }

    [Fact]
    public async Task ReceiverSlowerThanTheTimeoutIsAFailedAttemptThatIsRetried()
    {
        using var t = await factory.NewTenantAsync();
        var id = await SubscribeAsync(t, "/slow");
        _receiver.Delay = TimeSpan.FromSeconds(3);
        await t.Http.PostAsJsonAsync("/v1/users/slowpoke/memories", new { content = "Answers slowly" });

        var attempt = await WebhookTests.WaitForDeliveryAsync(t, id, d => d.GetProperty("attempts").GetInt32() >= 1 && d.GetProperty("error").ValueKind == JsonValueKind.String);
        Assert.Contains("No response within 0.5 s", attempt.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, attempt.GetProperty("status_code").ValueKind);
        Assert.InRange(attempt.GetProperty("duration_ms").GetInt32(), 400, 2900);
    }

    private async Task<string> SubscribeAsync(TenantClient t, string path) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/webhooks",
            new { url = _receiver.Url(path), events = new[] { "memory.created" } }))).GetProperty("id").GetString()!;
}
