using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using MemoryService.Tests.Tenancy;
using OpenAI;
using OpenAI.Chat;

namespace MemoryService.Tests.Chat;

/// <summary>
/// Learning through the OpenAI-compatible proxy, with the official OpenAI .NET SDK as the app and the fake model server
/// behind the proxy. The fixture learns with the built-in rules (the fake model's canned replies are not extractions),
/// through the real durable learning jobs.
/// </summary>
public sealed class ProxyLearningTests(CrossTenantFactory factory) : IClassFixture<CrossTenantFactory>
{
    [Fact]
    public async Task PreferenceStatedThroughTheProxyAppearsInTheNextProxiedSystemMessage()
    {
        using var t = await factory.NewTenantAsync();
        var learning = Client(t, learnHeader: "true");
        var plain = Client(t, learnHeader: null);
        var options = new ChatCompletionOptions { EndUserId = "traveller" };
        factory.Fake.EnqueueChatReply("Noted, window seats it is.", "Book 12A, a window seat.");

        var first = await learning.CompleteChatAsync([new UserChatMessage("I prefer window seats on long flights.")], options);

        Assert.Equal("Noted, window seats it is.", first.Value.Content[0].Text);
        Assert.True(first.GetRawResponse().Headers.TryGetValue("X-Memory-Learning-Job", out var job) && Guid.TryParse(job, out _));
        await WaitForMemoryAsync(t, "traveller", "window seats");

        var second = await plain.CompleteChatAsync([new UserChatMessage("Which seat should I book for Tokyo?")], options);

        Assert.Equal("Book 12A, a window seat.", second.Value.Content[0].Text);
        var system = LastModelRequest().GetProperty("messages")[0];
        Assert.Equal("system", system.GetProperty("role").GetString());
        Assert.Contains("window seats", system.GetProperty("content").GetString());
        Assert.False(second.GetRawResponse().Headers.TryGetValue("X-Memory-Learning-Job", out _));
    }

    [Fact]
    public async Task TenantDefaultLearnsFromStreamedExchangesAndTheHeaderOptsOut()
    {
        using var t = await factory.NewTenantAsync();
        Assert.False((await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/settings"))).GetProperty("proxy_learning").GetBoolean());
        var set = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PatchAsJsonAsync("/v1/settings", new { proxy_learning = true }));
        Assert.True(set.GetProperty("proxy_learning").GetBoolean());
        var options = new ChatCompletionOptions { EndUserId = "listener" };
        factory.Fake.EnqueueChatReply("Jazz it is.");

        var streamed = new List<string>();
        await foreach (var update in Client(t, learnHeader: null).CompleteChatStreamingAsync([new UserChatMessage("I prefer jazz over pop.")], options))
            streamed.AddRange(update.ContentUpdate.Select(p => p.Text));

        Assert.Equal("Jazz it is.", string.Concat(streamed));
        await WaitForMemoryAsync(t, "listener", "jazz");

        var optedOut = await Client(t, learnHeader: "false").CompleteChatAsync([new UserChatMessage("I prefer tea over coffee.")], options);

        Assert.False(optedOut.GetRawResponse().Headers.TryGetValue("X-Memory-Learning-Job", out _));
        Assert.Equal(0L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM learning_jobs WHERE tenant_id = $1 AND user_id = 'listener'", t.TenantId));
        Assert.DoesNotContain(await ContentsAsync(t, "listener"), c => c.Contains("tea", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task LearnHeaderMustBeTrueOrFalse()
    {
        using var t = await factory.NewTenantAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/openai/chat/completions")
        {
            Content = JsonContent.Create(new { user = "u", messages = new[] { new { role = "user", content = "hi" } } }),
        };
        request.Headers.Add("X-Memory-Learn", "sometimes");
        var before = factory.Fake.Requests.Count;

        var response = await t.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("true or false.", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("X-Memory-Learn")[0].GetString());
        Assert.Equal(before, factory.Fake.Requests.Count);
    }

    private ChatClient Client(TenantClient t, string? learnHeader) =>
        ProxyClient.For(t, factory.CreateClient(), "test-model", options =>
        {
            if (learnHeader is not null) options.AddPolicy(new HeaderPolicy("X-Memory-Learn", learnHeader), PipelinePosition.PerCall);
        });

    private JsonElement LastModelRequest() => factory.Fake.RequestsTo("/v1/chat/completions").Last().Json;

    private static async Task<List<string>> ContentsAsync(TenantClient t, string user) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/{user}/memories"))).GetProperty("items")
            .EnumerateArray().Select(m => m.GetProperty("content").GetString()!).ToList();

    /// <summary>Waits (at most 15 s) until the learning job has written a memory mentioning <paramref name="text"/>.</summary>
    private static async Task WaitForMemoryAsync(TenantClient t, string user, string text)
    {
        for (var i = 0; i < 150; i++)
        {
            if ((await ContentsAsync(t, user)).Any(c => c.Contains(text, StringComparison.OrdinalIgnoreCase))) return;
            await Task.Delay(100);
        }
        Assert.Fail($"No memory about '{text}' was learned; memories: {string.Join(" | ", await ContentsAsync(t, user))}");
    }

    /// <summary>Adds one header to every request the SDK sends, as an app would with its HTTP pipeline.</summary>
    private sealed class HeaderPolicy(string name, string value) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set(name, value);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
