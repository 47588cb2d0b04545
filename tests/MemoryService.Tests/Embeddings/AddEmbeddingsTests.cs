using MemoryService.Embeddings;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MemoryService.Tests.Embeddings;

public class AddEmbeddingsTests
{
    [Fact]
    public void HashingIsTheDefaultProvider()
    {
        using var host = Build([]);

        var generator = host.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var model = host.Services.GetRequiredService<IEmbeddingModel>();

        Assert.IsType<HashingEmbeddingGenerator>(generator);
        Assert.Equal("hashing-v1-384", model.ModelId);
        Assert.Equal(384, model.Dimensions);
    }

    [Fact]
    public void OpenAiProviderIsChosenFromConfiguration()
    {
        using var host = Build(new()
        {
            ["Embeddings:Provider"] = "openai",
            ["Embeddings:BaseUrl"] = "http://127.0.0.1:1/v1",
            ["Embeddings:Model"] = "nomic-embed-text",
            ["Embeddings:Dimensions"] = "768",
        });

        var generator = host.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var model = host.Services.GetRequiredService<IEmbeddingModel>();

        Assert.IsType<OpenAiEmbeddingGenerator>(generator);
        Assert.Equal("openai:nomic-embed-text:768", model.ModelId);
        Assert.Equal(768, model.Dimensions);
    }

    [Fact]
    public async Task UnknownProviderFailsAtStartup()
    {
        using var host = Build(new() { ["Embeddings:Provider"] = "word2vec" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Unknown embeddings provider 'word2vec'", error.Message);
    }

    [Fact]
    public async Task OpenAiProviderWithoutBaseUrlFailsAtStartup()
    {
        using var host = Build(new() { ["Embeddings:Provider"] = "openai", ["Embeddings:Model"] = "m" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("BaseUrl", error.Message);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddEmbeddings();
        return builder.Build();
    }
}
