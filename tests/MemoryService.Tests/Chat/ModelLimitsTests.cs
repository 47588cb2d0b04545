using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Chat;

/// <summary>A model with the default limits: only Llm:Model allowed, no tools, output capped at 300 tokens.</summary>
public sealed class ModelLimitsFactory : FakeOpenAiApiFactory
{
    public const int Cap = 300;

    protected override void UseServer(Uri baseUrl)
    {
        UseAsChatModel(baseUrl, "house-model");
        Settings["Llm:MaxOutputTokens"] = Cap.ToString();
    }
}

/// <summary>An operator who allows a second model and tool calling.</summary>
public sealed class PermissiveModelFactory : FakeOpenAiApiFactory
{
    protected override void UseServer(Uri baseUrl)
    {
        UseAsChatModel(baseUrl, "house-model");
        Settings["Llm:AllowedModels:0"] = "big-model";
        Settings["Llm:AllowTools"] = "true";
    }
}

internal static class ModelRequests
{
    public static object[] Hi => [new { role = "user", content = "hi" }];

    /// <summary>The output limit a request carried, under either of OpenAI's names, or null.</summary>
    public static long? MaxTokensSent(JsonElement request) =>
        request.TryGetProperty("max_completion_tokens", out var c) ? c.GetInt64()
        : request.TryGetProperty("max_tokens", out var t) ? t.GetInt64()
        : null;

    public static async Task AssertFieldError(HttpResponseMessage response, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}': {text}");
    }
}

public sealed class ModelLimitsTests(ModelLimitsFactory factory) : IClassFixture<ModelLimitsFactory>, IAsyncLifetime
{
    private FakeOpenAiServer Model => factory.Fake;

    public Task InitializeAsync()
    {
        Model.Reset();
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private IReadOnlyList<JsonElement> Sent() => Model.RequestsTo("/v1/chat/completions").Select(r => r.Json).ToList();

    [Fact]
    public async Task ChatSendsTheConfiguredModelWithItsOutputCapped()
    {
        using var t = await factory.NewTenantAsync();

        var unlimited = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi });
        var tooMany = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, max_tokens = 100_000 });
        var fewer = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, max_tokens = 50, model = "house-model" });
        var streamed = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, max_tokens = 100_000, stream = true });

        foreach (var r in new[] { unlimited, tooMany, fewer, streamed }) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var sent = Sent();
        Assert.Equal(4, sent.Count);
        Assert.All(sent, s => Assert.Equal("house-model", s.GetProperty("model").GetString()));
        Assert.Equal([ModelLimitsFactory.Cap, ModelLimitsFactory.Cap, 50L, ModelLimitsFactory.Cap], sent.Select(ModelRequests.MaxTokensSent));
    }

    [Fact]
    public async Task ChatRefusesAModelTheOperatorDidNotAllow()
    {
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, model = "gpt-expensive" });

        await ModelRequests.AssertFieldError(response, "model");
        Assert.Empty(Sent());
    }

    [Fact]
    public async Task ChatTakesNoToolsAndNoSecondChoice()
    {
        using var t = await factory.NewTenantAsync();

        var tools = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, tools = new[] { new { type = "function" } } });
        var choices = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, n = 3 });

        await ModelRequests.AssertFieldError(tools, "tools");
        await ModelRequests.AssertFieldError(choices, "n");
        Assert.Empty(Sent());
    }

    [Fact]
    public async Task ProxyFillsInTheModelAndCapsBothOutputLimits()
    {
        using var t = await factory.NewTenantAsync();

        var unlimited = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { user = "u1", messages = ModelRequests.Hi });
        var legacy = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { user = "u1", messages = ModelRequests.Hi, max_tokens = 99_999 });
        var current = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions",
            new { user = "u1", model = "house-model", messages = ModelRequests.Hi, max_completion_tokens = 10, n = 1 });
        var streamed = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions",
            new { user = "u1", messages = ModelRequests.Hi, stream = true, max_completion_tokens = 5_000 });

        foreach (var r in new[] { unlimited, legacy, current, streamed }) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var sent = Sent();
        Assert.Equal(4, sent.Count);
        Assert.All(sent, s => Assert.Equal("house-model", s.GetProperty("model").GetString()));
        Assert.Equal(ModelLimitsFactory.Cap, sent[0].GetProperty("max_completion_tokens").GetInt64());
        Assert.Equal(ModelLimitsFactory.Cap, sent[1].GetProperty("max_tokens").GetInt64());
        Assert.False(sent[1].TryGetProperty("max_completion_tokens", out _), "both limits sent");
        Assert.Equal(10, sent[2].GetProperty("max_completion_tokens").GetInt64());
        Assert.Equal(ModelLimitsFactory.Cap, sent[3].GetProperty("max_completion_tokens").GetInt64());
    }

    [Theory]
    [InlineData("model", """{"user": "u1", "model": "gpt-expensive", "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("model", """{"user": "u1", "model": 4, "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("n", """{"user": "u1", "n": 5, "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("n", """{"user": "u1", "n": "1", "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("tools", """{"user": "u1", "tools": [{"type": "function", "function": {"name": "f"}}], "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("functions", """{"user": "u1", "functions": [{"name": "f"}], "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("max_tokens", """{"user": "u1", "max_tokens": "lots", "messages": [{"role": "user", "content": "hi"}]}""")]
    [InlineData("max_completion_tokens", """{"user": "u1", "max_completion_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}""")]
    public async Task ProxyRefusesWhatTheOperatorDidNotAllowBeforeCallingTheModel(string field, string body)
    {
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsync("/v1/openai/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        await ModelRequests.AssertFieldError(response, field);
        Assert.Empty(Sent());
    }

    [Fact]
    public async Task LearningExtractionCallsAreCappedToo()
    {
        using var t = await factory.NewTenantAsync();

        await t.Http.PostAsJsonAsync("/v1/users/u1/memories/extract",
            new { messages = new[] { new { role = "user", content = "I prefer green tea and I live in Lisbon." } } });

        var sent = Sent();
        Assert.NotEmpty(sent);
        Assert.All(sent, s => Assert.Equal(ModelLimitsFactory.Cap, ModelRequests.MaxTokensSent(s)));
    }
}

public sealed class PermissiveModelTests(PermissiveModelFactory factory) : IClassFixture<PermissiveModelFactory>
{
    [Fact]
    public async Task AnAllowedModelAndToolsPassThroughWhenTheOperatorSaysSo()
    {
        using var t = await factory.NewTenantAsync();
        factory.Fake.Reset();

        var chat = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, model = "big-model" });
        var proxy = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new
        {
            user = "u1", model = "big-model", messages = ModelRequests.Hi,
            tools = new[] { new { type = "function", function = new { name = "lookup" } } },
        });
        var other = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = ModelRequests.Hi, model = "another-model" });

        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal(HttpStatusCode.OK, proxy.StatusCode);
        await ModelRequests.AssertFieldError(other, "model");
        var sent = factory.Fake.RequestsTo("/v1/chat/completions").Select(r => r.Json).ToList();
        Assert.Equal(2, sent.Count);
        Assert.All(sent, s => Assert.Equal("big-model", s.GetProperty("model").GetString()));
        Assert.Equal("lookup", sent[1].GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.All(sent, s => Assert.Equal(4096, ModelRequests.MaxTokensSent(s)));
    }
}
