using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Retrieval;

/// <summary>The service with the in-process model (the default local model); the weights load once per test run.</summary>
public sealed class LocalEmbeddingsFactory : ApiFactory
{
    public LocalEmbeddingsFactory()
    {
        Settings["Embeddings:Provider"] = "local";
        Settings["Embeddings:Threads"] = "2";
    }
}

public sealed class LocalEmbeddingsSearchTests(LocalEmbeddingsFactory api) : IClassFixture<LocalEmbeddingsFactory>
{
    [Fact]
    public async Task SearchRightAfterASingleCreateFindsItByMeaning()
    {
        using var t = await api.NewTenantAsync();
        foreach (var content in new[] { "Prefers tea over coffee", "Works as a nurse in Lisbon", "Has two cats named Pixel and Byte" })
            Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content }, ApiFactory.Json)).StatusCode);

        // no word in common with the memory
        var search = await t.Http.PostAsJsonAsync("/v1/users/u/memories/search", new { query = "what does she like to drink?", limit = 3 }, ApiFactory.Json);

        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        var items = (await ApiFactory.ReadAsync<JsonElement>(search)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal("Prefers tea over coffee", items[0].GetProperty("memory").GetProperty("content").GetString());
        var status = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/embeddings/status"));
        Assert.StartsWith("local:snowflake-arctic-embed-xs", status.GetProperty("model").GetString());
        Assert.Equal(0, status.GetProperty("pending").GetInt64());
    }
}
