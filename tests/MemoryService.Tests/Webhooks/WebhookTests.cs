using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Webhooks;

/// <summary>The service allowed to call a receiver on 127.0.0.1, with quick polling and retries.</summary>
public class WebhookFactory : ApiFactory
{
    public WebhookFactory()
    {
        Settings["Webhooks:AllowPrivateNetworks"] = "true";
        Settings["Webhooks:PollIntervalSeconds"] = "0.1";
        Settings["Webhooks:RetryDelaySeconds"] = "0.2";
        Settings["Webhooks:MaxRetryDelaySeconds"] = "0.5";
        Settings["Webhooks:RetryPeriodSeconds"] = "60";
        Settings["Webhooks:TimeoutSeconds"] = "2";
        Settings["Webhooks:DisableAfterConsecutiveFailures"] = "4";
        Settings["Webhooks:SweepIntervalSeconds"] = "0.3";
        Settings["Webhooks:MaxWebhooksPerTenant"] = "3";
        Settings["Webhooks:MaxPayloadBytes"] = "4096";
    }
}

/// <summary>Webhooks against a real local HTTP receiver: registration, signatures, retries, order, erasure and tenancy.</summary>
public sealed class WebhookTests(WebhookFactory factory) : IClassFixture<WebhookFactory>, IAsyncLifetime
{
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task SecretIsShownOnlyWhenTheWebhookIsCreated()
    {
        using var t = await factory.NewTenantAsync();
        var response = await t.Http.PostAsJsonAsync("/v1/webhooks",
            new { url = _receiver.Url("/crud"), events = new[] { "memory.created", "user.erased" }, description = "crm sync" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await ApiFactory.ReadAsync<JsonElement>(response);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/webhooks/{id}", response.Headers.Location!.OriginalString);
        Assert.StartsWith("whsec_", created.GetProperty("secret").GetString());
        Assert.Equal(32, Convert.FromBase64String(created.GetProperty("secret").GetString()!["whsec_".Length..]).Length);

        var one = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/webhooks/{id}"));
        Assert.False(one.TryGetProperty("secret", out _));
        Assert.Equal("crm sync", one.GetProperty("description").GetString());
        Assert.True(one.GetProperty("enabled").GetBoolean());
        Assert.Equal(["memory.created", "user.erased"], one.GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var list = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/webhooks"));
        var listed = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.False(listed.TryGetProperty("secret", out _));
        Assert.DoesNotContain(created.GetProperty("secret").GetString()!, list.GetRawText());

        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/webhooks/{id}/deliveries")).StatusCode);
    }

    [Fact]
    public async Task BadRegistrationsAreRefusedWithProblems()
    {
        using var t = await factory.NewTenantAsync();
        async Task<JsonElement> Refused(object body, HttpStatusCode status)
        {
            var response = await t.Http.PostAsJsonAsync("/v1/webhooks", body);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }
        var url = _receiver.Url("/bad");
        Assert.True((await Refused(new { url = "ftp://127.0.0.1/x", events = new[] { "memory.created" } }, HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("url", out _));
        Assert.True((await Refused(new { url, events = new[] { "memory.exploded" } }, HttpStatusCode.BadRequest))
            .GetProperty("errors").TryGetProperty("events", out _));
        await Refused(new { url, events = Array.Empty<string>() }, HttpStatusCode.BadRequest);
        await Refused(new { url = "not a url", events = new[] { "memory.created" } }, HttpStatusCode.BadRequest);

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/webhooks", new { url, events = new[] { "memory.created" } })).StatusCode);
        var full = await Refused(new { url, events = new[] { "memory.created" } }, HttpStatusCode.Conflict);
        Assert.Contains("MaxWebhooksPerTenant", full.GetProperty("detail").GetString());

        var id = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/webhooks"))).GetProperty("items")[0].GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.GetAsync($"/v1/webhooks/{id}/deliveries?limit=101")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.GetAsync($"/v1/webhooks/{id}/deliveries?cursor=nope")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.GetAsync($"/v1/webhooks/{id}/deliveries?status=lost")).StatusCode);
    }

    [Fact]
    public async Task DeliveredEventIsSignedWithTheSecretAndCarriesTheMemory()
    {
        using var t = await factory.NewTenantAsync();
        var secret = await SubscribeAsync(t, "/signed", "memory.created");
        var memory = await CreateMemoryAsync(t, "signer", "Prefers green tea");

        var received = Assert.Single(await _receiver.WaitForDeliveredAsync("/signed", 1));
        Assert.True(WebhookReceiver.Verifies(received, secret));
        Assert.False(WebhookReceiver.Verifies(received with { Body = received.Body.Replace("green", "black") }, secret));
        Assert.False(WebhookReceiver.Verifies(received, "whsec_" + Convert.ToBase64String(new byte[32])));
        Assert.InRange(long.Parse(received.Headers["webhook-timestamp"]), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60,
            DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
        Assert.StartsWith("application/json", received.Headers["content-type"]);

        var json = received.Json;
        Assert.Equal(received.Id, json.GetProperty("id").GetString());
        Assert.Equal("memory.created", json.GetProperty("type").GetString());
        Assert.Equal("signer", json.GetProperty("user_id").GetString());
        Assert.True(json.TryGetProperty("created_at", out _));
        var data = json.GetProperty("data");
        Assert.Equal(memory.GetProperty("id").GetString(), data.GetProperty("id").GetString());
        Assert.Equal("Prefers green tea", data.GetProperty("content").GetString());
        Assert.Equal(memory.GetProperty("version").GetInt32(), data.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task ReceiverFailingTwiceGetsTheEventThreeTimesWithTheSameId()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/flaky", "memory.created");
        _receiver.FailNext(2, 500);
        await CreateMemoryAsync(t, "flaky", "Lives in Lisbon");

        await _receiver.WaitForDeliveredAsync("/flaky", 1);
        var attempts = _receiver.At("/flaky");
        Assert.Equal([500, 500, 200], attempts.Select(a => a.AnsweredWith).ToArray());
        Assert.Single(attempts.Select(a => a.Id).Distinct());
        Assert.Single(attempts.Select(a => a.Body).Distinct());

        var webhook = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/webhooks"))).GetProperty("items")[0];
        var delivery = await WaitForDeliveryAsync(t, webhook.GetProperty("id").GetString()!, d => d.GetProperty("status").GetString() == "delivered");
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(200, delivery.GetProperty("status_code").GetInt32());
        Assert.Equal(attempts[0].Id, delivery.GetProperty("event_id").GetString());
        Assert.Equal("memory.created", delivery.GetProperty("event_type").GetString());
        Assert.True(delivery.GetProperty("duration_ms").GetInt32() >= 0);
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("next_attempt_at").ValueKind);
        // Recorded with the delivery, so read after it: the success ended the endpoint's run of failures.
        webhook = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/webhooks/{webhook.GetProperty("id").GetString()}"));
        Assert.Equal(0, webhook.GetProperty("consecutive_failures").GetInt32());
    }

    [Fact]
    public async Task OneUsersEventsArriveInOrderEvenWhenTheFirstIsRetried()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/ordered", "memory.created", "memory.updated", "memory.deleted");
        _receiver.FailNext(2, 503);
        var memory = await CreateMemoryAsync(t, "orderly", "Drives a blue car");
        var id = memory.GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await t.Http.PatchAsJsonAsync($"/v1/users/orderly/memories/{id}", new { content = "Drives a red car" })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/users/orderly/memories/{id}")).StatusCode);

        var delivered = await _receiver.WaitForDeliveredAsync("/ordered", 3);
        Assert.Equal(["memory.created", "memory.updated", "memory.deleted"], delivered.Select(r => r.Type).ToArray());
        Assert.Equal("Drives a red car", delivered[1].Json.GetProperty("data").GetProperty("content").GetString());
        Assert.Equal(2, delivered[1].Json.GetProperty("data").GetProperty("version").GetInt32());
        Assert.Equal("Drives a red car", delivered[2].Json.GetProperty("data").GetProperty("content").GetString());
    }

    [Fact]
    public async Task ConcurrentWritesOfOneUserArriveInTheOrderTheyCommitted()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/racing", "memory.created", "memory.updated");
        var id = (await CreateMemoryAsync(t, "racer", "Score 0")).GetProperty("id").GetString();

        var writes = await Task.WhenAll(Enumerable.Range(1, 12).Select(i => i % 3 == 0
            ? t.Http.PostAsJsonAsync("/v1/users/racer/memories", new { content = $"Note {i}" })
            : t.Http.PatchAsJsonAsync($"/v1/users/racer/memories/{id}", new { content = $"Score {i}" })));
        Assert.All(writes, w => Assert.True(w.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.PreconditionFailed,
            $"{(int)w.StatusCode}"));
        var succeeded = writes.Count(w => w.IsSuccessStatusCode);

        var delivered = await _receiver.WaitForDeliveredAsync("/racing", 1 + succeeded);
        var versions = delivered.Where(r => r.Type == "memory.updated").Select(r => r.Json.GetProperty("data").GetProperty("version").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(2, versions.Count), versions);
        Assert.Equal(writes.Count(w => w.StatusCode == HttpStatusCode.Created) + 1, delivered.Count(r => r.Type == "memory.created"));
    }

    [Fact]
    public async Task ErasingAUserSendsUserErasedWithNoContent()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/erase", "memory.created", "user.erased", "user.reset");
        var token = "okapi" + Guid.NewGuid().ToString("N")[..8];
        await CreateMemoryAsync(t, "leaver", $"Has a pet {token}");
        await _receiver.WaitForDeliveredAsync("/erase", 1);
        var reset = await t.Http.DeleteAsync("/v1/users/leaver/memories");
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        // Erasure drops the user's undelivered events, so let the reset arrive first.
        await _receiver.WaitForDeliveredAsync("/erase", 2);
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync("/v1/users/leaver")).StatusCode);

        var delivered = await _receiver.WaitForDeliveredAsync("/erase", 3);
        Assert.Equal(["memory.created", "user.reset", "user.erased"], delivered.Select(r => r.Type).ToArray());
        Assert.Equal(1, delivered[1].Json.GetProperty("data").GetProperty("deleted").GetInt32());
        var erased = delivered[2];
        Assert.Equal("leaver", erased.Json.GetProperty("user_id").GetString());
        Assert.Empty(erased.Json.GetProperty("data").EnumerateObject());
        Assert.DoesNotContain(token, erased.Body);
        // Nothing of the user's content is kept in the outbox either.
        Assert.Equal(0L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM webhook_events WHERE tenant_id = $1 AND body LIKE '%' || $2 || '%'", t.TenantId, token));
    }

    [Fact]
    public async Task ErasureDropsTheUsersUndeliveredEvents()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/behind", "memory.created", "user.erased");
        _receiver.IsDown = true;
        var token = "tapir" + Guid.NewGuid().ToString("N")[..8];
        await CreateMemoryAsync(t, "gone", $"Has a pet {token}");
        for (var i = 0; i < 200 && _receiver.At("/behind").Count == 0; i++) await Task.Delay(50);
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync("/v1/users/gone")).StatusCode);
        _receiver.IsDown = false;

        var delivered = Assert.Single(await _receiver.WaitForDeliveredAsync("/behind", 1));
        Assert.Equal("user.erased", delivered.Type);
        await Task.Delay(500);
        Assert.DoesNotContain(_receiver.At("/behind"), r => r.AnsweredWith == 200 && r.Body.Contains(token));
    }

    [Fact]
    public async Task AnotherTenantsWebhooksNeverReceiveThisTenantsEvents()
    {
        using var a = await factory.NewTenantAsync();
        using var b = await factory.NewTenantAsync();
        var all = new[] { "memory.created", "knowledge.created", "user.erased" };
        await SubscribeAsync(a, "/tenant-a", all);
        await SubscribeAsync(b, "/tenant-b", all);
        var token = "quokka" + Guid.NewGuid().ToString("N")[..8];

        // The same user id in both tenants: A's writes and A's erasure reach only A's endpoint.
        await CreateMemoryAsync(a, "shared-id", $"Collects {token}");
        Assert.Equal(HttpStatusCode.Created, (await a.Http.PostAsJsonAsync("/v1/knowledge", new { content = $"Policy {token}" })).StatusCode);
        await _receiver.WaitForDeliveredAsync("/tenant-a", 2);
        Assert.Equal(HttpStatusCode.NoContent, (await a.Http.DeleteAsync("/v1/users/shared-id")).StatusCode);
        await _receiver.WaitForDeliveredAsync("/tenant-a", 3);
        // B's own event, sent after A's: once it is in, anything of A's routed to B would have arrived too.
        await CreateMemoryAsync(b, "shared-id", "Collects stamps");
        var atB = await _receiver.WaitForDeliveredAsync("/tenant-b", 1);
        await Task.Delay(500);

        Assert.Single(_receiver.At("/tenant-b"));
        Assert.DoesNotContain(_receiver.At("/tenant-b"), r => r.Body.Contains(token));
        Assert.Equal("Collects stamps", atB[0].Json.GetProperty("data").GetProperty("content").GetString());
        Assert.Equal(3, _receiver.At("/tenant-a").Count);
        Assert.DoesNotContain(_receiver.At("/tenant-a"), r => r.Body.Contains("stamps"));
    }

    [Fact]
    public async Task LearningAnnouncesTheMemoryAndThenThatItCompleted()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/learned", "memory.created", "learning.completed");
        var response = await t.Http.PostAsJsonAsync("/v1/users/learner/memories/extract",
            new { messages = new[] { new { role = "user", content = "I'm vegetarian." } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var delivered = await _receiver.WaitForDeliveredAsync("/learned", 2);
        Assert.Equal(["memory.created", "learning.completed"], delivered.Select(r => r.Type).ToArray());
        var created = delivered[0].Json.GetProperty("data");
        Assert.Equal("inferred", created.GetProperty("source").GetString());
        var decision = Assert.Single(delivered[1].Json.GetProperty("data").GetProperty("decisions").EnumerateArray());
        Assert.Equal("add", decision.GetProperty("action").GetString());
        Assert.Equal(created.GetProperty("id").GetString(), decision.GetProperty("memory_ids")[0].GetString());
    }

    [Fact]
    public async Task MemoryPastItsExpiryIsAnnouncedOnceBySweep()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/expiry", "memory.expired", "knowledge.expired");
        var memory = await CreateMemoryAsync(t, "fleeting", "Is in Rome this week", expiresAt: DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/knowledge",
            new { content = "Summer sale ends", expires_at = DateTimeOffset.UtcNow.AddSeconds(1) })).StatusCode);

        var delivered = await _receiver.WaitForDeliveredAsync("/expiry", 2);
        Assert.Equal(["knowledge.expired", "memory.expired"], delivered.Select(r => r.Type).Order(StringComparer.Ordinal).ToArray());
        var expired = delivered.Single(r => r.Type == "memory.expired");
        Assert.Equal(memory.GetProperty("id").GetString(), expired.Json.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, delivered.Single(r => r.Type == "knowledge.expired").Json.GetProperty("user_id").ValueKind);
        await Task.Delay(1000); // several more sweeps
        Assert.Equal(2, _receiver.At("/expiry").Count);
    }

    [Fact]
    public async Task OversizedPayloadIsSentWithItsDataCutToTheId()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/big", "memory.created");
        var response = await t.Http.PostAsJsonAsync("/v1/users/big/memories",
            new { content = "Has a long profile", metadata = new { notes = new string('x', 6000) } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await ApiFactory.ReadAsync<JsonElement>(response)).GetProperty("id").GetString();

        var received = Assert.Single(await _receiver.WaitForDeliveredAsync("/big", 1));
        Assert.True(received.Body.Length <= 4096);
        var data = received.Json.GetProperty("data");
        Assert.True(data.GetProperty("truncated").GetBoolean());
        Assert.Equal(id, data.GetProperty("id").GetString());
    }

    [Fact]
    public async Task EndpointThatKeepsFailingIsDisabledAndItsDeliveriesMarkedFailed()
    {
        using var t = await factory.NewTenantAsync();
        await SubscribeAsync(t, "/broken", "memory.created");
        _receiver.FailNext(1000, 500);
        await CreateMemoryAsync(t, "unlucky", "Plays chess");
        await CreateMemoryAsync(t, "unlucky", "Plays go");

        var webhook = await WaitForWebhookAsync(t, w => !w.GetProperty("enabled").GetBoolean());
        Assert.Contains("4 failed attempts in a row", webhook.GetProperty("disabled_reason").GetString());
        Assert.Contains("500", webhook.GetProperty("disabled_reason").GetString());
        var id = webhook.GetProperty("id").GetString()!;
        var page = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/webhooks/{id}/deliveries"));
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.All(items, d => Assert.Equal("failed", d.GetProperty("status").GetString()));
        Assert.Equal(4, items.Single(d => d.GetProperty("attempts").GetInt32() > 0).GetProperty("attempts").GetInt32());
        Assert.Equal(4, _receiver.At("/broken").Count);

        // A disabled endpoint is sent nothing more.
        await CreateMemoryAsync(t, "unlucky", "Plays bridge");
        await Task.Delay(600);
        Assert.Equal(4, _receiver.At("/broken").Count);
    }

    // ---- helpers ----

    private async Task<string> SubscribeAsync(TenantClient t, string path, params string[] events)
    {
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/webhooks", new { url = _receiver.Url(path), events }));
        return created.GetProperty("secret").GetString()!;
    }

    private static async Task<JsonElement> CreateMemoryAsync(TenantClient t, string user, string content, DateTimeOffset? expiresAt = null) =>
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories",
            new { content, expires_at = expiresAt }, ApiFactory.Json));

    /// <summary>Polls the endpoint's deliveries until one satisfies <paramref name="done"/>.</summary>
    public static async Task<JsonElement> WaitForDeliveryAsync(TenantClient t, string webhookId, Func<JsonElement, bool> done)
    {
        for (var i = 0; i < 200; i++)
        {
            var page = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/webhooks/{webhookId}/deliveries"));
            if (page.GetProperty("items").EnumerateArray().FirstOrDefault(done) is { ValueKind: JsonValueKind.Object } d) return d;
            await Task.Delay(50);
        }
        Assert.Fail("The delivery did not reach the expected state.");
        return default;
    }

    private static async Task<JsonElement> WaitForWebhookAsync(TenantClient t, Func<JsonElement, bool> done)
    {
        for (var i = 0; i < 200; i++)
        {
            var list = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/webhooks"));
            if (list.GetProperty("items").EnumerateArray().FirstOrDefault(done) is { ValueKind: JsonValueKind.Object } w) return w;
            await Task.Delay(50);
        }
        Assert.Fail("The webhook did not reach the expected state.");
        return default;
    }
}
