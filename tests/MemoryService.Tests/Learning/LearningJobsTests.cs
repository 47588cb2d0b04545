using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Learning;

/// <summary>Chat with a fake model whose extraction calls a test can hold in flight or fail; one job runner, quick retries.</summary>
public sealed class LearningJobsApiFactory : LlmApiFactory
{
    protected override void UseServer(Uri baseUrl)
    {
        base.UseServer(baseUrl);
        Settings["Learning:Jobs:Workers"] = "1";
        Settings["Learning:Jobs:PollIntervalSeconds"] = "0.1";
        Settings["Learning:Jobs:MaxAttempts"] = "2";
        Settings["Learning:Jobs:RetryDelaySeconds"] = "0.2";
        Settings["Learning:Jobs:MaxPendingPerUser"] = "3";
    }
}

public sealed class LearningJobsTests(LearningJobsApiFactory factory) : IClassFixture<LearningJobsApiFactory>
{
    internal const string Vegetarian = """
        {"memories": [{"kind": "fact", "content": "Is vegetarian", "key": "diet", "importance": 0.7, "confidence": 0.9, "event_date": null, "evidence": "I'm vegetarian."}]}
        """;

    [Fact]
    public async Task ChatReturnsAJobIdThatIsListedUntilTheJobIsLearned()
    {
        using var gate = HoldExtraction();
        using var t = await factory.NewTenantAsync();

        var chat = await ChatAsync(t, "jobs1");
        var jobId = chat.GetProperty("learning_job_id").GetGuid();
        Assert.True(chat.GetProperty("learning").GetBoolean());
        Assert.Equal("ok", chat.GetProperty("message").GetProperty("content").GetString());

        // The job is there as soon as the reply is, while the extraction is still held.
        var listed = Assert.Single(await ListAsync(t, "jobs1"));
        Assert.Equal(jobId, listed.GetProperty("id").GetGuid());
        Assert.Contains(listed.GetProperty("status").GetString(), new[] { "pending", "running" });
        Assert.Equal(2, listed.GetProperty("message_count").GetInt32());

        gate.Release();
        await WaitForAsync(async () => await MemoryCountAsync(t, "jobs1") == 1);
        await WaitForAsync(async () => (await ListAsync(t, "jobs1")).Count == 0);
        Assert.Equal("Is vegetarian", await factory.QueryScalarAsync<string>(
            "SELECT content FROM memories WHERE tenant_id = $1 AND user_id = 'jobs1'", t.TenantId));
    }

    [Fact]
    public async Task StreamedChatNamesItsLearningJobInTheDoneEvent()
    {
        using var gate = HoldExtraction();
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsJsonAsync("/v1/users/streamer/chat",
            new { learn = true, stream = true, messages = new[] { new { role = "user", content = "I'm vegetarian." } } });
        var events = MemoryService.Tests.Chat.Sse.Parse(await response.Content.ReadAsStringAsync());

        using var done = JsonDocument.Parse(events[^1]);
        Assert.Equal("done", done.RootElement.GetProperty("type").GetString());
        var jobId = done.RootElement.GetProperty("learning_job_id").GetGuid();
        Assert.Equal(jobId, Assert.Single(await ListAsync(t, "streamer")).GetProperty("id").GetGuid());
        gate.Release();
        await WaitForAsync(async () => await MemoryCountAsync(t, "streamer") == 1);
    }

    [Fact]
    public async Task ExtractionThatKeepsFailingIsRetriedThenListedAsFailedWithTheLastError()
    {
        factory.Llm.Reset();
        factory.Llm.BeforeChatReply = (body, _) => Task.FromResult<int?>(IsExtraction(body) ? 500 : null);
        using var t = await factory.NewTenantAsync();

        var jobId = (await ChatAsync(t, "jobs2")).GetProperty("learning_job_id").GetGuid();

        JsonElement failed = default;
        await WaitForAsync(async () => (await ListAsync(t, "jobs2", "?status=failed")).FirstOrDefault() is { ValueKind: JsonValueKind.Object } f
            && (failed = f).ValueKind == JsonValueKind.Object);
        Assert.Equal(jobId, failed.GetProperty("id").GetGuid());
        Assert.Equal(2, failed.GetProperty("attempts").GetInt32());
        Assert.Contains("500", failed.GetProperty("last_error").GetString());
        Assert.Equal(2, factory.Llm.RequestsTo("/v1/chat/completions").Count(r => IsExtraction(r.Json)));
        Assert.Empty(await ListAsync(t, "jobs2", "?status=pending"));
        Assert.Equal(0, await MemoryCountAsync(t, "jobs2"));
        factory.Llm.Reset();
    }

    [Fact]
    public async Task EraseWhileAJobIsInFlightLeavesNothingBehind()
    {
        using var gate = HoldExtraction();
        using var t = await factory.NewTenantAsync();
        var created = await t.Http.PostAsJsonAsync("/v1/users/erased/memories", new { content = "Keeps a bonsai on the desk" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await ChatAsync(t, "erased");
        await WaitForAsync(() => Task.FromResult(gate.Held > 0)); // the job is running: its extraction is in flight
        var erase = await t.Http.DeleteAsync("/v1/users/erased");
        Assert.Equal(HttpStatusCode.NoContent, erase.StatusCode);
        Assert.Empty(await ListAsync(t, "erased"));
        gate.Release();

        // One worker runs jobs in order: once a later job is learned, the erased user's job has finished too.
        await ChatAsync(t, "after-erase");
        await WaitForAsync(async () => await MemoryCountAsync(t, "after-erase") == 1);
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = 'erased'", t.TenantId));
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM users WHERE tenant_id = $1 AND id = 'erased'", t.TenantId));
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1 AND user_id = 'erased'", t.TenantId));
    }

    [Fact]
    public async Task ResetWhileAJobIsInFlightDropsItsLearningButKeepsTheUser()
    {
        using var gate = HoldExtraction();
        using var t = await factory.NewTenantAsync();
        var created = await t.Http.PostAsJsonAsync("/v1/users/reset-me/memories", new { content = "Keeps a bonsai on the desk" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await ChatAsync(t, "reset-me");
        await WaitForAsync(() => Task.FromResult(gate.Held > 0));
        var reset = await t.Http.DeleteAsync("/v1/users/reset-me/memories");
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Empty(await ListAsync(t, "reset-me"));
        gate.Release();

        await ChatAsync(t, "after-reset");
        await WaitForAsync(async () => await MemoryCountAsync(t, "after-reset") == 1);
        Assert.Equal(0, await MemoryCountAsync(t, "reset-me"));
        Assert.Equal(1L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM users WHERE tenant_id = $1 AND id = 'reset-me'", t.TenantId));
    }

    [Fact]
    public async Task PendingJobsPerUserAreCappedAndTheNextChatIs429BeforeTheModelIsCalled()
    {
        using var gate = HoldExtraction();
        using var t = await factory.NewTenantAsync();
        for (var i = 0; i < 3; i++) await ChatAsync(t, "busy");
        var repliesBefore = factory.Llm.RequestsTo("/v1/chat/completions").Count(r => !IsExtraction(r.Json));

        var refused = await t.Http.PostAsJsonAsync("/v1/users/busy/chat", new { learn = true, messages = new[] { new { role = "user", content = "I'm vegetarian." } } });

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "a full learning queue answers without Retry-After");
        Assert.Equal(repliesBefore, factory.Llm.RequestsTo("/v1/chat/completions").Count(r => !IsExtraction(r.Json)));
        Assert.Equal(3, (await ListAsync(t, "busy")).Count);
        // Without learning the same user still chats.
        var plain = await t.Http.PostAsJsonAsync("/v1/users/busy/chat", new { messages = new[] { new { role = "user", content = "Hi" } } });
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        gate.Release();
        await WaitForAsync(async () => (await ListAsync(t, "busy")).Count == 0);
    }

    [Fact]
    public async Task AnotherTenantNeitherSeesNorErasesTheUsersJobs()
    {
        using var gate = HoldExtraction();
        using var owner = await factory.NewTenantAsync();
        using var other = await factory.NewTenantAsync();
        var jobId = (await ChatAsync(owner, "shared-name")).GetProperty("learning_job_id").GetGuid();

        Assert.Empty(await ListAsync(other, "shared-name"));
        Assert.Equal(HttpStatusCode.NotFound, (await other.Http.DeleteAsync("/v1/users/shared-name")).StatusCode);
        Assert.Equal(jobId, Assert.Single(await ListAsync(owner, "shared-name")).GetProperty("id").GetGuid());
        gate.Release();
        await WaitForAsync(async () => await MemoryCountAsync(owner, "shared-name") == 1);
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=101")]
    [InlineData("?status=done")]
    [InlineData("?cursor=not-a-cursor")]
    public async Task BadListingParametersAre400(string query)
    {
        using var t = await factory.NewTenantAsync();
        var response = await t.Http.GetAsync("/v1/users/u/learning" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    internal static bool IsExtraction(JsonElement body) =>
        body.TryGetProperty("response_format", out var f) && f.TryGetProperty("json_schema", out var s) && s.GetProperty("name").GetString() == "memories";

    /// <summary>Extraction calls wait until <see cref="Gate.Release"/>, then answer <see cref="Vegetarian"/>; chat replies are "ok".</summary>
    private Gate HoldExtraction()
    {
        factory.Llm.Reset();
        var gate = new Gate(factory.Llm);
        factory.Llm.ChatReply = body => IsExtraction(body) ? Vegetarian : "ok";
        factory.Llm.BeforeChatReply = async (body, ct) =>
        {
            if (!IsExtraction(body)) return null;
            Interlocked.Increment(ref gate.Held);
            await gate.Open.Task.WaitAsync(ct);
            return null;
        };
        return gate;
    }

    private sealed class Gate(FakeOpenAiServer llm) : IDisposable
    {
        public readonly TaskCompletionSource Open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Held;

        public void Release() => Open.TrySetResult();

        public void Dispose()
        {
            Release();
            llm.BeforeChatReply = null;
        }
    }

    private static async Task<JsonElement> ChatAsync(TenantClient t, string user) =>
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/chat",
            new { learn = true, messages = new[] { new { role = "user", content = "I'm vegetarian." } } }));

    private static async Task<List<JsonElement>> ListAsync(TenantClient t, string user, string query = "") =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/{user}/learning{query}")))
            .GetProperty("items").EnumerateArray().ToList();

    private Task<long> MemoryCountAsync(TenantClient t, string user) =>
        factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2", t.TenantId, user);

    internal static async Task WaitForAsync(Func<Task<bool>> condition, double seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"Not within {seconds} s.");
            await Task.Delay(50);
        }
    }
}

/// <summary>A job runner whose attempts time out after one second, with no retry.</summary>
public sealed class LearningJobTimeoutFactory : LlmApiFactory
{
    protected override void UseServer(Uri baseUrl)
    {
        base.UseServer(baseUrl);
        Settings["Learning:Jobs:PollIntervalSeconds"] = "0.1";
        Settings["Learning:Jobs:MaxAttempts"] = "1";
        Settings["Learning:Jobs:TimeoutSeconds"] = "1";
    }
}

public sealed class LearningJobTimeoutTests(LearningJobTimeoutFactory factory) : IClassFixture<LearningJobTimeoutFactory>
{
    [Fact]
    public async Task AnAttemptThatOutlivesTheJobTimeoutIsCancelledAndRecorded()
    {
        factory.Llm.BeforeChatReply = async (body, ct) =>
        {
            if (LearningJobsTests.IsExtraction(body)) await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return null;
        };
        using var t = await factory.NewTenantAsync();
        var chat = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/slow/chat",
            new { learn = true, messages = new[] { new { role = "user", content = "I'm vegetarian." } } }));
        var jobId = chat.GetProperty("learning_job_id").GetGuid();
        var started = DateTime.UtcNow;

        JsonElement failed = default;
        await LearningJobsTests.WaitForAsync(async () =>
        {
            var items = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/users/slow/learning?status=failed")))
                .GetProperty("items").EnumerateArray().ToList();
            if (items.Count == 0) return false;
            failed = items[0];
            return true;
        }, seconds: 15);

        Assert.Equal(jobId, failed.GetProperty("id").GetGuid());
        Assert.Contains("timed out", failed.GetProperty("last_error").GetString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the attempt was not cut off by the job timeout");
        factory.Llm.BeforeChatReply = null;
    }
}
