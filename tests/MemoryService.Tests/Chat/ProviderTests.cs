using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using OpenAI;
using OpenAI.Chat;

namespace MemoryService.Tests.Chat;

/// <summary>A chat provider configured the way an operator would, pointed at the fake server's path for its protocol.</summary>
public abstract class ProviderFactory : FakeOpenAiApiFactory
{
    public const string Key = "sk-provider-key";
    public const int Cap = 300;

    protected abstract string Provider { get; }

    protected abstract Uri BaseUrlOf(FakeOpenAiServer server);

    protected override void UseServer(Uri baseUrl)
    {
        Settings["Llm:Provider"] = Provider;
        Settings["Llm:BaseUrl"] = BaseUrlOf(Fake).ToString();
        Settings["Llm:Model"] = "house-model";
        Settings["Llm:ApiKey"] = Key;
        Settings["Llm:MaxOutputTokens"] = Cap.ToString();
        Settings["Llm:TimeoutSeconds"] = "2";
        Settings["Llm:MaxRetries"] = "0";
    }
}

public sealed class OllamaFactory : ProviderFactory
{
    protected override string Provider => "ollama";
    protected override Uri BaseUrlOf(FakeOpenAiServer server) => server.RootUrl;
}

public sealed class AnthropicFactory : ProviderFactory
{
    protected override string Provider => "anthropic";
    protected override Uri BaseUrlOf(FakeOpenAiServer server) => server.RootUrl;
}

public sealed class AzureOpenAiFactory : ProviderFactory
{
    protected override string Provider => "azure-openai";
    protected override Uri BaseUrlOf(FakeOpenAiServer server) => server.AzureUrl;
}

/// <summary>
/// What every chat provider must do, each against a real local server speaking that provider's own protocol:
/// chat (plain and streamed) with the memory context and the output cap in the provider's request shape, the
/// OpenAI-compatible proxy (plain and streamed, through the official OpenAI SDK too), and 502/504 for a model
/// that is down or slow.
/// </summary>
public abstract class ProviderContractTests<TFactory>(TFactory factory) : IAsyncLifetime where TFactory : ProviderFactory
{
    private FakeOpenAiServer Model => factory.Fake;

    /// <summary>The path the provider's client calls.</summary>
    protected abstract string ChatPath { get; }

    /// <summary>The system prompt as the provider's request carries it.</summary>
    protected abstract string SystemPrompt(JsonElement request);

    /// <summary>The system prompt of an OpenAI-style or Ollama request: the first message.</summary>
    protected static string FirstSystemMessage(JsonElement request)
    {
        var first = request.GetProperty("messages")[0];
        Assert.Equal("system", first.GetProperty("role").GetString());
        return first.GetProperty("content").GetString()!;
    }

    /// <summary>The output limit as the provider's request carries it.</summary>
    protected abstract long MaxTokens(JsonElement request);

    /// <summary>The temperature as the provider's request carries it, or null where the provider's package has none.</summary>
    protected abstract double? Temperature(JsonElement request);

    /// <summary>Asserts the key went in the provider's own header (or, for a keyless protocol, nowhere).</summary>
    protected abstract void AssertKeySent(RecordedRequest request);

    public Task InitializeAsync()
    {
        Model.Reset();
        Model.ChatReply = _ => "ok";
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private IReadOnlyList<RecordedRequest> Sent() => Model.RequestsTo(ChatPath);

    /// <summary>Whether the provider's client sends a temperature at all.</summary>
    protected virtual bool SendsTemperature => true;

    private void AssertTemperature(double expected, JsonElement request)
    {
        if (SendsTemperature) Assert.Equal(expected, Temperature(request)!.Value, 3);
        else Assert.Null(Temperature(request));
    }

    private static async Task AddMemoryAsync(TenantClient t, string user, string content)
    {
        var response = await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories", new { content, kind = "preference" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task ChatGetsItsReplyFromTheProviderWithTheMemoryAndTheCap()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u1", "Prefers green tea in the morning");
        Model.EnqueueChatReply("Green tea it is.");

        var response = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "What should I drink?" } }, max_tokens = 100_000 });

        var body = await ApiFactory.ReadAsync<JsonElement>(response);
        Assert.Equal("Green tea it is.", body.GetProperty("message").GetProperty("content").GetString());
        var sent = Assert.Single(Sent());
        Assert.Contains("Prefers green tea in the morning", SystemPrompt(sent.Json));
        Assert.Equal("house-model", sent.Json.GetProperty("model").GetString());
        Assert.Equal(ProviderFactory.Cap, MaxTokens(sent.Json));
        AssertKeySent(sent);
    }

    [Fact]
    public async Task ChatStreamsTheProvidersChunks()
    {
        using var t = await factory.NewTenantAsync();
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
        Assert.True(deltas.Count > 1, $"{deltas.Count} deltas");
        Assert.Equal("Bonjour, comment allez-vous?", string.Concat(deltas));
        Assert.Equal("done", events.Last().GetProperty("type").GetString());
        Assert.Equal(ProviderFactory.Cap, MaxTokens(Assert.Single(Sent()).Json));
    }

    [Fact]
    public async Task ProxyStreamsOpenAiChunksEndingWithDone()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u2", "Is vegetarian");
        Model.EnqueueChatReply("Try a lentil curry.");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/openai/chat/completions")
        {
            Content = JsonContent.Create(new { user = "u2", stream = true, temperature = 0.3, messages = new[] { new { role = "user", content = "Dinner idea?" } } }),
        };
        using var response = await t.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var data = Sse.Parse(body);
        Assert.Equal("[DONE]", data.Last());
        var chunks = data.SkipLast(1).Select(d => JsonDocument.Parse(d).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var text = string.Concat(chunks.Select(c => c.GetProperty("choices")).Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var x) ? x.GetString() : ""));
        Assert.Equal("Try a lentil curry.", text);
        var sent = Assert.Single(Sent()).Json;
        Assert.Contains("Is vegetarian", SystemPrompt(sent));
        AssertTemperature(0.3, sent);
        Assert.Equal(ProviderFactory.Cap, MaxTokens(sent));
    }

    [Fact]
    public async Task OfficialOpenAiSdkWorksThroughTheProxy()
    {
        using var t = await factory.NewTenantAsync();
        await AddMemoryAsync(t, "u3", "Lives in Lisbon");
        var client = ProxyClient.For(t, factory.CreateClient(), "house-model");
        var options = new ChatCompletionOptions { EndUserId = "u3", Temperature = 0.2f };
        Model.EnqueueChatReply("It is sunny in Lisbon.", "Lisbon is lovely.");

        var completion = (await client.CompleteChatAsync([new UserChatMessage("What's the weather where I live?")], options)).Value;
        var streamed = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me about where I live")], options))
            streamed.AddRange(update.ContentUpdate.Select(p => p.Text));

        Assert.Equal("It is sunny in Lisbon.", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("Lisbon is lovely.", string.Concat(streamed));
        var requests = Sent();
        Assert.Equal(2, requests.Count);
        foreach (var r in requests)
        {
            Assert.Contains("Lives in Lisbon", SystemPrompt(r.Json));
            AssertTemperature(0.2, r.Json);
        }
    }

    [Fact]
    public async Task ProxyLearnsFromAStreamedExchangeThroughTheProvider()
    {
        using var t = await factory.NewTenantAsync();
        var user = MemoryService.Tests.Learning.LearningApiTests.NewUser();
        // The same canned answer for the proxied chat and for learning's extraction call that follows it.
        Model.ChatReply = _ => JsonSerializer.Serialize(new
        {
            memories = new[] { new { kind = "preference", content = "Prefers aisle seats", key = "seat", importance = 0.7, confidence = 0.9, event_date = (string?)null, evidence = "I prefer aisle seats." } },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/openai/chat/completions")
        {
            Content = JsonContent.Create(new { user, stream = true, messages = new[] { new { role = "user", content = "I prefer aisle seats." } } }),
        };
        request.Headers.Add("X-Memory-Learn", "true");

        using var response = await t.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("[DONE]", Sse.Parse(body).Last());
        for (var i = 0; i < 150; i++)
        {
            var list = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/{user}/memories"));
            if (list.GetProperty("items").EnumerateArray().Any(m => m.GetProperty("content").GetString() == "Prefers aisle seats")) return;
            await Task.Delay(100);
        }
        Assert.Fail("the streamed proxy exchange was not learned within 15 s");
    }

    /// <summary>Asserts learning's JSON schema went in the provider's own structured-output field.</summary>
    protected abstract void AssertSchemaSent(JsonElement request);

    [Fact]
    public async Task LearningExtractsMemoriesThroughTheProvider()
    {
        using var t = await factory.NewTenantAsync();
        var user = MemoryService.Tests.Learning.LearningApiTests.NewUser();
        Model.ChatReply = _ => JsonSerializer.Serialize(new
        {
            memories = new[] { new { kind = "fact", content = "Is vegetarian", key = "diet", importance = 0.7, confidence = 0.9, event_date = (string?)null, evidence = "I'm vegetarian." } },
        });

        var outcome = await MemoryService.Tests.Learning.LearningApiTests.LearnAsync(t, user, "I'm vegetarian.");

        var decision = Assert.Single(MemoryService.Tests.Learning.LearningApiTests.Decisions(outcome));
        Assert.Equal("add", decision.GetProperty("action").GetString());
        var sent = Sent();
        Assert.NotEmpty(sent);
        AssertSchemaSent(sent[0].Json);
        Assert.All(sent, r => Assert.Equal(ProviderFactory.Cap, MaxTokens(r.Json)));
    }

    [Fact]
    public async Task ModelDownIsBadGatewayAndSlowModelIsGatewayTimeout()
    {
        using var t = await factory.NewTenantAsync();
        var hi = new[] { new { role = "user", content = "hi" } };
        Model.IsDown = true;

        var chat = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = hi });
        var proxy = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { user = "u1", messages = hi });
        var proxyStream = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { user = "u1", stream = true, messages = hi });
        Model.IsDown = false;
        Model.Delay = TimeSpan.FromSeconds(4); // Llm:TimeoutSeconds is 2
        var slow = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = hi });
        var slowStream = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { stream = true, messages = hi });

        Assert.Equal(HttpStatusCode.BadGateway, chat.StatusCode);
        Assert.Equal("application/problem+json", chat.Content.Headers.ContentType?.MediaType);
        var detail = await chat.Content.ReadAsStringAsync();
        Assert.True(detail.Contains("503"), detail);
        Assert.Equal(HttpStatusCode.BadGateway, proxy.StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, proxyStream.StatusCode);
        Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
        Assert.Equal(HttpStatusCode.GatewayTimeout, slowStream.StatusCode);
    }
}

public sealed class OllamaProviderTests(OllamaFactory factory) : ProviderContractTests<OllamaFactory>(factory), IClassFixture<OllamaFactory>
{
    protected override string ChatPath => FakeOpenAiServer.OllamaChatPath;

    protected override string SystemPrompt(JsonElement request) => FirstSystemMessage(request);

    protected override long MaxTokens(JsonElement request) => request.GetProperty("options").GetProperty("num_predict").GetInt64();

    protected override double? Temperature(JsonElement request) => request.GetProperty("options").GetProperty("temperature").GetDouble();

    protected override void AssertKeySent(RecordedRequest request) => Assert.False(request.Headers.ContainsKey("api-key"));

    // Ollama's structured output: the schema itself as "format".
    protected override void AssertSchemaSent(JsonElement request) =>
        Assert.True(request.GetProperty("format").GetProperty("properties").TryGetProperty("memories", out _), request.GetRawText());
}

public sealed class AnthropicProviderTests(AnthropicFactory factory) : ProviderContractTests<AnthropicFactory>(factory), IClassFixture<AnthropicFactory>
{
    protected override string ChatPath => FakeOpenAiServer.AnthropicMessagesPath;

    // The Messages API carries the system prompt beside the messages, as a string or as text blocks.
    protected override string SystemPrompt(JsonElement request)
    {
        var system = request.GetProperty("system");
        Assert.DoesNotContain(request.GetProperty("messages").EnumerateArray(), m => m.GetProperty("role").GetString() == "system");
        return system.ValueKind == JsonValueKind.String ? system.GetString()!
            : string.Concat(system.EnumerateArray().Select(b => b.GetProperty("text").GetString()));
    }

    protected override long MaxTokens(JsonElement request) => request.GetProperty("max_tokens").GetInt64();

    // Anthropic's SDK 13.15 has no sampling parameters (no temperature, top_p or top_k in its Messages request), so a
    // temperature the caller gives is not sent.
    protected override bool SendsTemperature => false;

    protected override double? Temperature(JsonElement request) => request.TryGetProperty("temperature", out var t) ? t.GetDouble() : null;

    protected override void AssertKeySent(RecordedRequest request)
    {
        // Anthropic's SDK 13 sends an API key as a bearer token.
        Assert.Equal($"Bearer {ProviderFactory.Key}", request.Headers["Authorization"]);
        Assert.True(request.Headers.ContainsKey("anthropic-version"));
    }

    // Anthropic's structured output: output_config.format with the schema.
    protected override void AssertSchemaSent(JsonElement request)
    {
        var format = request.GetProperty("output_config").GetProperty("format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.True(format.GetProperty("schema").GetProperty("properties").TryGetProperty("memories", out _));
    }
}

public sealed class AzureOpenAiProviderTests(AzureOpenAiFactory factory) : ProviderContractTests<AzureOpenAiFactory>(factory), IClassFixture<AzureOpenAiFactory>
{
    protected override string ChatPath => FakeOpenAiServer.AzureChatPath;

    protected override string SystemPrompt(JsonElement request) => FirstSystemMessage(request);

    protected override long MaxTokens(JsonElement request) => ModelRequests.MaxTokensSent(request)!.Value;

    protected override double? Temperature(JsonElement request) => request.GetProperty("temperature").GetDouble();

    // Azure's own header, and no bearer token beside it.
    protected override void AssertKeySent(RecordedRequest request)
    {
        Assert.Equal(ProviderFactory.Key, request.Headers["api-key"]);
        Assert.False(request.Headers.ContainsKey("Authorization"));
    }

    protected override void AssertSchemaSent(JsonElement request)
    {
        var format = request.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("strict").GetBoolean());
        Assert.True(format.GetProperty("json_schema").GetProperty("schema").GetProperty("properties").TryGetProperty("memories", out _));
    }
}

/// <summary>Ollama with Llm:MaxRetries, which the service supplies (OllamaSharp has no retry of its own).</summary>
public sealed class OllamaRetryFactory : ProviderFactory
{
    protected override string Provider => "ollama";
    protected override Uri BaseUrlOf(FakeOpenAiServer server) => server.RootUrl;

    protected override void UseServer(Uri baseUrl)
    {
        base.UseServer(baseUrl);
        Settings["Llm:MaxRetries"] = "2";
    }
}

public sealed class OllamaRetryTests(OllamaRetryFactory factory) : IClassFixture<OllamaRetryFactory>
{
    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task TransientFailuresAreRetriedUpToMaxRetries(int status)
    {
        factory.Fake.Reset();
        using var t = await factory.NewTenantAsync();
        factory.Fake.FailNext(2, status);
        factory.Fake.EnqueueChatReply("Third time lucky.");

        var response = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "hi" } } });

        var body = await ApiFactory.ReadAsync<JsonElement>(response);
        Assert.Equal("Third time lucky.", body.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(3, factory.Fake.RequestsTo(FakeOpenAiServer.OllamaChatPath).Count);
    }

    [Fact]
    public async Task ABadRequestIsNotRetried()
    {
        factory.Fake.Reset();
        using var t = await factory.NewTenantAsync();
        factory.Fake.FailNext(1, 400);

        var response = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Single(factory.Fake.RequestsTo(FakeOpenAiServer.OllamaChatPath));
    }
}
