using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace MemoryService.Tests.Chat;

public sealed class ChatTests(ChatApiFactory factory) : IClassFixture<ChatApiFactory>, IAsyncLifetime
{
    private FakeOpenAiServer Model => factory.Model;

    public Task InitializeAsync()
    {
        Model.Reset();
        Model.ChatReply = _ => "ok";
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static async Task<string> AddMemoryAsync(TenantClient t, string user, string content, string kind = "fact", double importance = 0.5,
        DateTimeOffset? observedAt = null)
    {
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories",
            new { content, kind, importance, observed_at = observedAt ?? DateTimeOffset.UtcNow }, ApiFactory.Json));
        return created.GetProperty("id").GetString()!;
    }

    private string SystemPromptSeenByModel()
    {
        var request = Model.RequestsTo("/v1/chat/completions").Last().Json;
        var first = request.GetProperty("messages")[0];
        Assert.Equal("system", first.GetProperty("role").GetString());
        return first.GetProperty("content").GetString()!;
    }

    [Fact]
    public async Task StoredPreferenceReachesTheModelAndSupersededOneDoesNot()
    {
        using var t = await factory.NewTenantAsync();
        var old = await AddMemoryAsync(t, "u1", "Prefers coffee in the morning", "preference");
        await AddMemoryAsync(t, "u1", "Prefers green tea in the morning", "preference");
        await factory.QueryScalarAsync<int>("WITH u AS (UPDATE memories SET valid_to = now() WHERE id = $1 RETURNING 1) SELECT count(*)::int FROM u", Guid.Parse(old));
        Model.EnqueueChatReply("Green tea it is.");

        var response = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "What should I drink?" } } }, ApiFactory.Json);

        var body = await ApiFactory.ReadAsync<JsonElement>(response);
        Assert.Equal("Green tea it is.", body.GetProperty("message").GetProperty("content").GetString());
        var prompt = SystemPromptSeenByModel();
        Assert.Contains("Prefers green tea in the morning", prompt);
        Assert.DoesNotContain("coffee", prompt);
        Assert.DoesNotContain(old, body.GetProperty("memory_ids").EnumerateArray().Select(e => e.GetString()));
        var sent = Model.RequestsTo("/v1/chat/completions").Last().Json;
        Assert.Equal("test-model", sent.GetProperty("model").GetString());
        Assert.Equal("What should I drink?", sent.GetProperty("messages")[1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task ChatStreamsServerSentEventsEndingWithMemoryIds()
    {
        using var t = await factory.NewTenantAsync();
        var id = await AddMemoryAsync(t, "u1", "Speaks French", "preference");
        Model.EnqueueChatReply("Bonjour, comment allez-vous?");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/users/u1/chat")
        {
            Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "Hello" } }, stream = true }),
        };
        using var response = await t.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = Sse.Parse(await response.Content.ReadAsStringAsync()).Select(d => JsonDocument.Parse(d).RootElement).ToList();
        var deltas = events.Where(e => e.GetProperty("type").GetString() == "delta").Select(e => e.GetProperty("content").GetString()).ToList();
        Assert.True(deltas.Count > 1);
        Assert.Equal("Bonjour, comment allez-vous?", string.Concat(deltas));
        var done = events.Last();
        Assert.Equal("done", done.GetProperty("type").GetString());
        Assert.Contains(id, done.GetProperty("memory_ids").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("Speaks French", SystemPromptSeenByModel());
    }

    [Fact]
    public async Task ProxyStreamsOpenAiChunksAndDone()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u2", "Is vegetarian", "preference");
        Model.EnqueueChatReply("Try a lentil curry.");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/openai/chat/completions")
        {
            Content = JsonContent.Create(new { model = "gpt-x", user = "u2", stream = true, messages = new[] { new { role = "user", content = "Dinner idea?" } } }),
        };
        using var response = await t.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = Sse.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", data.Last());
        var text = string.Concat(data.SkipLast(1).Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0).Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var x) ? x.GetString() : ""));
        Assert.Equal("Try a lentil curry.", text);
        Assert.Contains("Is vegetarian", SystemPromptSeenByModel());
        Assert.Equal("gpt-x", Model.RequestsTo("/v1/chat/completions").Last().Json.GetProperty("model").GetString());
    }

    [Fact]
    public async Task OfficialOpenAiSdkWorksThroughTheProxy()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u3", "Lives in Lisbon", "fact");
        var client = ProxyClient.For(t, factory.CreateClient(), "test-model");
        var options = new ChatCompletionOptions { EndUserId = "u3", Temperature = 0.2f };
        Model.EnqueueChatReply("It is sunny in Lisbon.", "Lisbon is lovely.");

        var completion = (await client.CompleteChatAsync([new UserChatMessage("What's the weather where I live?")], options)).Value;
        var streamed = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me about where I live")], options))
            streamed.AddRange(update.ContentUpdate.Select(p => p.Text));

        Assert.Equal("It is sunny in Lisbon.", completion.Content[0].Text);
        Assert.Equal("Lisbon is lovely.", string.Concat(streamed));
        var requests = Model.RequestsTo("/v1/chat/completions");
        Assert.Equal(2, requests.Count);
        foreach (var r in requests)
        {
            var messages = r.Json.GetProperty("messages");
            Assert.Equal("system", messages[0].GetProperty("role").GetString());
            Assert.Contains("Lives in Lisbon", messages[0].GetProperty("content").GetString());
            Assert.Equal(0.2, r.Json.GetProperty("temperature").GetDouble(), 3);
        }
    }

    [Fact]
    public async Task ProxyNeedsAUser()
    {
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { model = "test-model", messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("user", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ProxyTakesTheUserFromTheHeader()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u4", "Has a dog named Rex", "fact");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/openai/chat/completions")
        {
            Content = JsonContent.Create(new { model = "test-model", messages = new[] { new { role = "user", content = "What is my dog called?" } } }),
        };
        request.Headers.Add("X-User-Id", "u4");

        var response = await t.Http.SendAsync(request);

        var body = await ApiFactory.ReadAsync<JsonElement>(response);
        Assert.Equal("ok", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Contains("Has a dog named Rex", SystemPromptSeenByModel());
    }

    [Fact]
    public async Task ModelDownIsBadGateway()
    {
        using var t = await factory.NewTenantAsync();
        Model.IsDown = true;

        var chat = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "hi" } } });
        var proxy = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { user = "u1", messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(HttpStatusCode.BadGateway, chat.StatusCode);
        Assert.Equal("application/problem+json", chat.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadGateway, proxy.StatusCode);
    }

    [Fact]
    public async Task SlowModelIsGatewayTimeout()
    {
        using var t = await factory.NewTenantAsync();
        Model.Delay = TimeSpan.FromSeconds(4); // Llm:TimeoutSeconds is 2 in this fixture

        var chat = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "hi" } } });
        var stream = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { stream = true, messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(HttpStatusCode.GatewayTimeout, chat.StatusCode);
        Assert.Equal(HttpStatusCode.GatewayTimeout, stream.StatusCode);
        Assert.Equal("application/problem+json", chat.Content.Headers.ContentType?.MediaType);
    }
}

public sealed class ChatLearningTests(ChatApiFactory factory) : IClassFixture<ChatApiFactory>
{
    private static async Task<IReadOnlyList<MemoryService.Learning.ConversationMessage>> SeenAsync(ChatApiFactory factory, string user)
    {
        for (var i = 0; i < 100 && !factory.Learner.Seen.ContainsKey(user); i++) await Task.Delay(50);
        return factory.Learner.Seen[user];
    }

    [Fact]
    public async Task LearnRunsOnTheExchangeAfterReplying()
    {
        using var t = await factory.NewTenantAsync();
        factory.Model.EnqueueChatReply("Noted!");

        var response = await t.Http.PostAsJsonAsync("/v1/users/learner1/chat", new { learn = true, messages = new[] { new { role = "user", content = "I moved to Porto" } } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = await SeenAsync(factory, "learner1");
        Assert.Equal(["user:I moved to Porto", "assistant:Noted!"], seen.Select(m => $"{m.Role}:{m.Content}"));
    }

    [Fact]
    public async Task ChatTimeZoneReachesTheLearning()
    {
        using var t = await factory.NewTenantAsync();
        factory.Model.EnqueueChatReply("Have a good trip!");

        var response = await t.Http.PostAsJsonAsync("/v1/users/learner-tz/chat", new
        {
            learn = true, time_zone = "Asia/Tokyo", messages = new[] { new { role = "user", content = "I'm flying to Rome tomorrow" } },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await SeenAsync(factory, "learner-tz");
        Assert.Equal(TimeSpan.FromHours(9), factory.Learner.ObservedAt["learner-tz"].Offset);
    }

    [Fact]
    public async Task UnknownChatTimeZoneIs400NamingTheField()
    {
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsJsonAsync("/v1/users/u/chat", new
        {
            learn = true, time_zone = "Mars/Olympus_Mons", messages = new[] { new { role = "user", content = "hello" } },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("time_zone", out _));
    }

    [Fact]
    public async Task UserTurnIsLearnedEvenWhenTheModelFails()
    {
        using var t = await factory.NewTenantAsync();
        factory.Model.FailNext(1, 500);

        var response = await t.Http.PostAsJsonAsync("/v1/users/learner2/chat", new { learn = true, messages = new[] { new { role = "user", content = "I am vegan" } } });

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(["user:I am vegan"], (await SeenAsync(factory, "learner2")).Select(m => $"{m.Role}:{m.Content}"));
    }
}

/// <summary>The data payloads of a Server-Sent Events body.</summary>
internal static class Sse
{
    public static List<string> Parse(string body) => body.Split('\n')
        .Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => l[5..].TrimStart()).ToList();
}
