using MemoryService.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MemoryService.Tests.Chat;

public class AddLlmTests
{
    [Theory]
    [InlineData("openai")]
    [InlineData("azure-openai")]
    [InlineData("ollama")]
    [InlineData("anthropic")]
    public async Task EveryProviderNeedsABaseUrlBecauseThereIsNoDefaultHost(string provider)
    {
        using var host = Build(new() { ["Llm:Provider"] = provider, ["Llm:Model"] = "m" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"Llm:BaseUrl must be an absolute URL when Llm:Provider is '{provider}'", error.Message);
    }

    [Theory]
    [InlineData("openai", "http://127.0.0.1:1/v1")]
    [InlineData("azure-openai", "http://127.0.0.1:1/openai/v1/")]
    [InlineData("ollama", "http://127.0.0.1:1")]
    [InlineData("anthropic", "http://127.0.0.1:1")]
    public void EveryProviderGivesAChatClient(string provider, string baseUrl)
    {
        using var host = Build(new() { ["Llm:Provider"] = provider, ["Llm:BaseUrl"] = baseUrl, ["Llm:Model"] = "m" });

        var chat = host.Services.GetRequiredService<IChatClient>();

        Assert.IsType<OutputTokenCap>(chat);
        Assert.NotNull(chat.GetService<ModelCallGuard>());
    }

    [Fact]
    public async Task UnknownProviderFailsAtStartupNamingTheKnownOnes()
    {
        using var host = Build(new() { ["Llm:Provider"] = "gemini" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Unknown LLM provider 'gemini'", error.Message);
        Assert.Contains("ollama", error.Message);
        Assert.Contains("anthropic", error.Message);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddLlm();
        return builder.Build();
    }
}
