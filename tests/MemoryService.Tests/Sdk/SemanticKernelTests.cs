using System.ClientModel;
using System.Text.Json;
using MemoryService.Client;
using MemoryService.SemanticKernel;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;

namespace MemoryService.Tests.Sdk;

/// <summary>
/// MemoryService.SemanticKernel over a live service and a local fake OpenAI server: what the fake model receives
/// is what the app's model would receive.
/// </summary>
public sealed class SemanticKernelTests(ApiFactory factory) : IClassFixture<ApiFactory>, IAsyncLifetime
{
    private FakeOpenAiServer _fake = null!;

    public async Task InitializeAsync() => _fake = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    private OpenAIClient FakeOpenAi() => new(new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = _fake.BaseUrl });

    private Kernel NewKernel(MemoryServiceClient memory, string user)
    {
        var builder = Kernel.CreateBuilder();
        builder.AddOpenAIChatCompletion("fake-model", FakeOpenAi());
        builder.AddMemoryServiceChat(memory, new MemoryChatOptions { UserId = user, TokenBudget = 300 });
        builder.Plugins.AddMemoryServicePlugin(memory, user);
        return builder.Build();
    }

    /// <summary>The system messages of the fake model's latest chat request.</summary>
    private string LastSystemPrompt()
    {
        var request = _fake.RequestsTo("/v1/chat/completions").Last().Json;
        return string.Join("\n", request.GetProperty("messages").EnumerateArray()
            .Where(m => m.GetProperty("role").GetString() is "system" or "developer")
            .Select(m => m.GetProperty("content").ValueKind == JsonValueKind.String
                ? m.GetProperty("content").GetString()
                : string.Concat(m.GetProperty("content").EnumerateArray().Select(p => p.GetProperty("text").GetString()))));
    }

    [Fact]
    public async Task StoredPreferenceReachesTheSystemPromptTheKernelModelReceives()
    {
        var memory = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        await memory.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Prefers answers in Portuguese", Kind = MemoryKind.Preference });
        var kernel = NewKernel(memory, user);
        _fake.EnqueueChatReply("Olá!");

        var history = new ChatHistory("You are a helpful assistant.");
        history.AddUserMessage("Which language should you answer me in?");
        var reply = await kernel.GetRequiredService<IChatCompletionService>().GetChatMessageContentAsync(history, kernel: kernel);

        Assert.Equal("Olá!", reply.Content);
        var system = LastSystemPrompt();
        Assert.Contains("You are a helpful assistant.", system);
        Assert.Contains("Prefers answers in Portuguese", system);
    }

    [Fact]
    public async Task StatedPreferenceIsLearnedAfterTheReplyAndReachesTheNextTurn()
    {
        var memory = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var kernel = NewKernel(memory, user);
        _fake.EnqueueChatReply("Noted, no meat.", "How about a mushroom risotto?");

        var first = await kernel.InvokePromptAsync("I'm vegetarian.");
        Assert.Equal("Noted, no meat.", first.ToString());
        Assert.DoesNotContain("vegetarian", LastSystemPrompt(), StringComparison.OrdinalIgnoreCase);
        var learned = await memory.ListMemoriesAsync(user, key: "diet");
        Assert.Contains("vegetarian", Assert.Single(learned.Items).Content, StringComparison.OrdinalIgnoreCase);

        await kernel.InvokePromptAsync("What should I cook tonight?");
        Assert.Contains("vegetarian", LastSystemPrompt(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ChatClientPipelineAddsContextAndLearnsWhenStreaming()
    {
        var memory = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        await memory.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Prefers short answers", Kind = MemoryKind.Preference });
        using var chat = new ChatClientBuilder(FakeOpenAi().GetChatClient("fake-model").AsIChatClient())
            .UseMemoryService(memory, new MemoryChatOptions { UserId = user })
            .Build();
        _fake.EnqueueChatReply("Sure thing.");

        var text = "";
        await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "I have a dog.")]))
            text += update.Text;

        Assert.Equal("Sure thing.", text);
        Assert.Contains("Prefers short answers", LastSystemPrompt());
        var learned = await memory.ListMemoriesAsync(user, kind: "fact");
        Assert.Contains(learned.Items, m => m.Content.Contains("dog", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task PluginFunctionsAreListedWithDescriptionsAndOfferedToTheModel()
    {
        var memory = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var kernel = NewKernel(memory, user);

        var functions = kernel.Plugins[MemoryPlugin.DefaultName].GetFunctionsMetadata().ToDictionary(f => f.Name);
        Assert.Equal(["forget", "recall", "remember"], functions.Keys.Order());
        foreach (var f in functions.Values)
        {
            Assert.False(string.IsNullOrWhiteSpace(f.Description), f.Name);
            Assert.All(f.Parameters, p => Assert.False(string.IsNullOrWhiteSpace(p.Description), $"{f.Name}.{p.Name}"));
        }
        Assert.Equal(["content", "kind"], functions["remember"].Parameters.Select(p => p.Name));

        await kernel.InvokePromptAsync("Hello", new KernelArguments(new OpenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() }));
        var tools = _fake.RequestsTo("/v1/chat/completions").Last().Json.GetProperty("tools").EnumerateArray()
            .Select(t => t.GetProperty("function")).ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("description").GetString());
        // Semantic Kernel names a plugin's function "plugin_function" (older versions: "plugin-function").
        Assert.Equal(["memory_forget", "memory_recall", "memory_remember"], tools.Keys.Select(k => k.Replace('-', '_')).Order());
        foreach (var (name, description) in tools)
            Assert.Equal(functions[name[(name.IndexOfAny(['-', '_']) + 1)..]].Description, description);
    }

    [Fact]
    public async Task PluginRemembersRecallsAndForgets()
    {
        var memory = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var kernel = NewKernel(memory, user);

        var remembered = await kernel.InvokeAsync(MemoryPlugin.DefaultName, "remember", new() { ["content"] = "Prefers aisle seats", ["kind"] = "preference" });
        var stored = Assert.Single((await memory.ListMemoriesAsync(user)).Items);
        Assert.Equal(MemoryKind.Preference, stored.Kind);
        Assert.Contains(stored.Id.ToString(), remembered.ToString());

        var recalled = (await kernel.InvokeAsync(MemoryPlugin.DefaultName, "recall", new() { ["query"] = "aisle seats" })).ToString();
        Assert.Contains($"[{stored.Id}] Prefers aisle seats", recalled);

        var forgot = await kernel.InvokeAsync(MemoryPlugin.DefaultName, "forget", new() { ["memoryId"] = stored.Id.ToString() });
        Assert.Contains("Forgot", forgot.ToString());
        Assert.Empty((await memory.ListMemoriesAsync(user)).Items);
        var again = await kernel.InvokeAsync(MemoryPlugin.DefaultName, "forget", new() { ["memoryId"] = stored.Id.ToString() });
        Assert.Contains("No memory", again.ToString());
    }

    [Fact]
    public async Task AFailingMemoryServiceLeavesTheChatWorkingWithoutMemory()
    {
        var rejected = new MemoryServiceClient(factory.CreateClient(), "msk_not_a_real_key_0123456789");
        using var chat = new ChatClientBuilder(FakeOpenAi().GetChatClient("fake-model").AsIChatClient())
            .UseMemoryService(rejected, new MemoryChatOptions { UserId = SdkTenants.NewUser() })
            .Build();
        _fake.EnqueueChatReply("Still here.");

        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "I'm vegetarian.")]);

        Assert.Equal("Still here.", response.Text);
        Assert.Equal("Be brief.", LastSystemPrompt());
    }
}
