using System.Net;
using System.Net.Sockets;
using MemoryService.Embeddings;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace MemoryService.Tests.Embeddings;

public sealed class OpenAiEmbeddingGeneratorTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task BatchesRequestsAndKeepsInputOrder()
    {
        using var generator = Create(o => o.BatchSize = 64);
        var texts = Enumerable.Range(0, 150).Select(i => $"memory number {i}").ToList();

        var embeddings = await generator.GenerateAsync(texts);

        var requests = _server.RequestsTo("/v1/embeddings");
        Assert.Equal([64, 64, 22], requests.Select(r => r.Json.GetProperty("input").GetArrayLength()));
        Assert.Equal(150, embeddings.Count);
        for (var i = 0; i < texts.Count; i++)
            Assert.Equal(FakeOpenAiServer.DeterministicVector(texts[i], 384), embeddings[i].Vector.ToArray());
    }

    [Fact]
    public async Task SendsModelDimensionsAndApiKey()
    {
        using var generator = Create(o => { o.Model = "text-embedding-3-small"; o.Dimensions = 256; o.ApiKey = "sk-test"; });

        var embeddings = await generator.GenerateAsync(["hello"]);

        var request = Assert.Single(_server.Requests);
        Assert.Equal("text-embedding-3-small", request.Json.GetProperty("model").GetString());
        Assert.Equal(256, request.Json.GetProperty("dimensions").GetInt32());
        Assert.Equal("Bearer sk-test", request.Headers["Authorization"]);
        Assert.Equal(256, embeddings[0].Vector.Length);
        Assert.Equal("openai:text-embedding-3-small:256", embeddings[0].ModelId);
        Assert.Equal("openai:text-embedding-3-small:256", generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId);
    }

    [Fact]
    public async Task LeavesDimensionsOutWhenToldTo()
    {
        _server.DefaultDimensions = 384;
        using var generator = Create(o => o.SendDimensions = false);

        await generator.GenerateAsync(["hello"]);

        Assert.False(Assert.Single(_server.Requests).Json.TryGetProperty("dimensions", out _));
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task RetriesTransientFailuresThenSucceeds(int status)
    {
        _server.FailNext(2, status);
        using var generator = Create(o => o.MaxRetries = 3);

        var embeddings = await generator.GenerateAsync(["hello"]);

        Assert.Single(embeddings);
        Assert.Equal(3, _server.Requests.Count);
    }

    [Fact]
    public async Task DoesNotRetryABadRequest()
    {
        _server.FailNext(1, 400);
        using var generator = Create(o => o.MaxRetries = 3);

        await Assert.ThrowsAsync<EmbeddingUnavailableException>(() => generator.GenerateAsync(["hello"]));

        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task ThrowsUnavailableWhenServerIsDown()
    {
        _server.IsDown = true;
        using var generator = Create(o => o.MaxRetries = 2);

        var error = await Assert.ThrowsAsync<EmbeddingUnavailableException>(() => generator.GenerateAsync(["hello"]));

        Assert.Equal(3, _server.Requests.Count);
        Assert.Contains("503", error.Message);
        Assert.Contains("openai", error.Message);
    }

    [Fact]
    public async Task ThrowsUnavailableWhenNothingListens()
    {
        using var generator = Create(o => { o.BaseUrl = new Uri($"http://127.0.0.1:{UnusedPort()}/v1"); o.MaxRetries = 1; });

        var error = await Assert.ThrowsAsync<EmbeddingUnavailableException>(() => generator.GenerateAsync(["hello"]));

        Assert.Contains("cannot connect", error.Message);
    }

    [Fact]
    public async Task ThrowsUnavailableWhenEachAttemptTimesOut()
    {
        _server.Delay = TimeSpan.FromSeconds(5);
        using var generator = Create(o => { o.TimeoutSeconds = 1; o.MaxRetries = 1; });

        var error = await Assert.ThrowsAsync<EmbeddingUnavailableException>(() => generator.GenerateAsync(["hello"]));

        Assert.Contains("no answer within 1 s", error.Message);
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task CallerCancellationIsNotReportedAsUnavailable()
    {
        _server.Delay = TimeSpan.FromSeconds(5);
        using var generator = Create(o => o.TimeoutSeconds = 10);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(["hello"], cancellationToken: cancellation.Token));
    }

    private OpenAiEmbeddingGenerator Create(Action<EmbeddingsOptions>? configure = null)
    {
        var options = new EmbeddingsOptions
        {
            Provider = EmbeddingProviders.OpenAi,
            BaseUrl = _server.BaseUrl,
            Model = "test-embedder",
            TimeoutSeconds = 5,
        };
        configure?.Invoke(options);
        return new OpenAiEmbeddingGenerator(options, logger: null, retryBaseDelay: TimeSpan.FromMilliseconds(10));
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
