using System.Net;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Foundation;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Retrieval;

/// <summary>The service with the openai embedding provider against a real local OpenAI-compatible server.</summary>
public sealed class OpenAiEmbeddingsFactory : FakeOpenAiApiFactory
{
    public FakeOpenAiServer Embedder => Fake;

    protected override void UseServer(Uri baseUrl)
    {
        Settings["Embeddings:Provider"] = "openai";
        Settings["Embeddings:BaseUrl"] = baseUrl.ToString();
        Settings["Embeddings:Model"] = "fake-embedder";
        Settings["Embeddings:Dimensions"] = "64";
        Settings["Embeddings:BatchSize"] = "64";
        Settings["Embeddings:MaxRetries"] = "2";
        Settings["Embeddings:TimeoutSeconds"] = "5";
        Settings["Embeddings:BackgroundPollSeconds"] = "1";
    }
}

public sealed class EmbeddingProviderTests(OpenAiEmbeddingsFactory api) : IClassFixture<OpenAiEmbeddingsFactory>
{
    private const string Embeddings = "/v1/embeddings";

    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    [Fact]
    public async Task BatchWritesAreEmbeddedInBatchedRequestsAndSearchUsesTheModel()
    {
        using var t = await api.NewTenantAsync();
        var before = api.Embedder.RequestsTo(Embeddings).Count;
        var items = Enumerable.Range(0, 150).Select(i => new { content = $"Fact {i} about trains" }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items }))).StatusCode);
        // stored at once; the background worker embeds the batch in chunks of Embeddings:BatchSize
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        Assert.Equal(3, api.Embedder.RequestsTo(Embeddings).Count - before);
        Assert.Equal("fake-embedder", api.Embedder.RequestsTo(Embeddings)[^1].Json.GetProperty("model").GetString());
        Assert.Equal(150L, await api.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding_model = 'openai:fake-embedder:64' AND vector_dims(embedding) = 64", t.TenantId));

        var search = await t.Http.PostAsync("/v1/users/u/memories/search", Body(new { query = "Fact 7 about trains" }));
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
    }

    [Fact]
    public async Task A429IsRetriedAndTheWriteSucceeds()
    {
        using var t = await api.NewTenantAsync();
        api.Embedder.FailNext(1, 429);
        var before = api.Embedder.RequestsTo(Embeddings).Count;
        var response = await t.Http.PostAsync("/v1/users/u/memories", Body(new { content = "Likes sushi" }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(2, api.Embedder.RequestsTo(Embeddings).Count - before);
    }

    [Fact]
    public async Task WhenTheEmbedderIsDownSingleWritesAndSearchesAre503AndABatchIsStoredAndEmbeddedOnceItIsBack()
    {
        using var t = await api.NewTenantAsync();
        api.Embedder.IsDown = true;
        try
        {
            var write = await t.Http.PostAsync("/v1/users/u/memories", Body(new { content = "Lives in Lisbon" }));
            var problem = await FoundationTests.AssertProblem(write, HttpStatusCode.ServiceUnavailable);
            Assert.Contains("unavailable", problem.GetProperty("detail").GetString());
            await FoundationTests.AssertProblem(await t.Http.PostAsync("/v1/users/u/memories/search", Body(new { query = "Lisbon" })),
                HttpStatusCode.ServiceUnavailable);
            Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
            Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM users WHERE tenant_id = $1", t.TenantId));

            // a batch does not wait on the model: stored without vectors, pending for the background worker
            var batch = await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items = new[] { new { content = "Sails on Sundays" }, new { content = "Keeps bees" } } }));
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
            await Task.Delay(1500); // the worker tried (and failed) at least once
            var status = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/embeddings/status"));
            Assert.Equal(2, status.GetProperty("pending").GetInt64());
        }
        finally
        {
            api.Embedder.IsDown = false;
        }
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        Assert.Equal(2L, await api.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding_model = 'openai:fake-embedder:64' AND vector_dims(embedding) = 64", t.TenantId));
    }
}

/// <summary>A second service generation on the same database, with another embedding model configured.</summary>
public sealed class SwitchedModelFactory(string connectionString) : ApiFactory(connectionString)
{
}

public sealed class ModelSwitchTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task SwitchingTheModelReembedsEveryMemoryAndSearchKeepsWorking()
    {
        using var t = await api.NewTenantAsync();
        var items = Enumerable.Range(0, 300).Select(i => new { content = i == 42 ? "Plays the cello in an orchestra" : $"Routine note number {i}" }).ToList();
        await t.Http.PostAsync("/v1/users/u/memories/batch", new StringContent(JsonSerializer.Serialize(new { items }, ApiFactory.Json), Encoding.UTF8, "application/json"));
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        var oldModel = await api.QueryScalarAsync<string>("SELECT DISTINCT embedding_model FROM memories WHERE tenant_id = $1", t.TenantId);

        await using var next = new SwitchedModelFactory(api.ConnectionString);
        next.Settings["Embeddings:Dimensions"] = "256";
        using var client = next.CreateClient();
        client.DefaultRequestHeaders.Authorization = t.Http.DefaultRequestHeaders.Authorization;

        JsonElement status = default;
        for (var i = 0; i < 100; i++)
        {
            status = await ApiFactory.ReadAsync<JsonElement>(await client.GetAsync("/v1/embeddings/status"));
            if (status.GetProperty("pending").GetInt64() == 0) break;
            await Task.Delay(200);
        }
        Assert.Equal(0, status.GetProperty("pending").GetInt64());
        Assert.Equal(300, status.GetProperty("total").GetInt64());
        var newModel = status.GetProperty("model").GetString();
        Assert.NotEqual(oldModel, newModel);
        Assert.Equal(300L, await api.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding_model = $2 AND vector_dims(embedding) = 256", t.TenantId, newModel!));

        var hits = await ApiFactory.ReadAsync<JsonElement>(await client.PostAsync("/v1/users/u/memories/search",
            new StringContent("""{"query":"cello orchestra","explain":true}""", Encoding.UTF8, "application/json")));
        var top = hits.GetProperty("items")[0];
        Assert.Equal("Plays the cello in an orchestra", top.GetProperty("memory").GetProperty("content").GetString());
        Assert.True(top.GetProperty("explain").GetProperty("similarity").GetDouble() > 0);
    }
}
