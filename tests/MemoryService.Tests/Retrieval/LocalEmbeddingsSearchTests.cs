using System.Net;
using System.Net.Http.Headers;
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

    [Fact]
    public async Task SwitchingFromHashingToLocalReembedsInTheBackgroundWhileSearchKeepsWorking()
    {
        // 1. a hashing generation stores 400 memories and embeds them
        await using var hashing = new ServiceGeneration();
        using var t = await hashing.NewTenantAsync();
        var items = Enumerable.Range(0, 400).Select(i => new { content = i == 123 ? "Plays the cello in an orchestra" : $"Routine note number {i}" }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/users/u/memories/batch", new { items }, ApiFactory.Json)).StatusCode);
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());

        // 2. the next generation runs the local model on the same database
        await using var local = new ServiceGeneration(hashing.ConnectionString);
        local.Settings["Embeddings:Provider"] = "local";
        local.Settings["Embeddings:Threads"] = "2";
        using var http = local.CreateClient();
        var key = t.Http.DefaultRequestHeaders.Authorization!;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(key.Scheme, key.Parameter);

        // every search answers, and finds the memory by its words, while the rows are re-embedded
        var statuses = new List<long>();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            var status = await ApiFactory.ReadAsync<JsonElement>(await http.GetAsync("/v1/embeddings/status"));
            statuses.Add(status.GetProperty("pending").GetInt64());
            var search = await http.PostAsJsonAsync("/v1/users/u/memories/search", new { query = "cello orchestra", limit = 3 }, ApiFactory.Json);
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
            var top = (await ApiFactory.ReadAsync<JsonElement>(search)).GetProperty("items")[0];
            Assert.Equal("Plays the cello in an orchestra", top.GetProperty("memory").GetProperty("content").GetString());
            if (statuses[^1] == 0) break;
        }
        Assert.True(statuses[0] > 0, "the first status, right after the switch, shows rows of the old model pending");
        Assert.Equal(0, statuses[^1]);
        Assert.Equal(400L, await local.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding_model LIKE 'local:%'", t.TenantId));

        // 3. now found by meaning: no word in common
        var meaning = await ApiFactory.ReadAsync<JsonElement>(await http.PostAsJsonAsync("/v1/users/u/memories/search",
            new { query = "which musical instrument does she play?", limit = 3 }, ApiFactory.Json));
        Assert.Equal("Plays the cello in an orchestra", meaning.GetProperty("items")[0].GetProperty("memory").GetProperty("content").GetString());
    }

    [Fact]
    public async Task AParaphraseWithAnotherKeyIsANoopThroughTheLearningPipeline()
    {
        // With hashing the two statements share too little (their keys differ: like:hiking, like:going-on-hikes): two memories.
        await using var hashing = new ServiceGeneration();
        using var lexical = await hashing.NewTenantAsync();
        Assert.Equal("add", await LearnAsync(lexical, "I love hiking."));
        Assert.Equal("add", await LearnAsync(lexical, "I really enjoy going on hikes."));

        // With the local model the second is recognised as the same meaning.
        using var t = await api.NewTenantAsync();
        Assert.Equal("add", await LearnAsync(t, "I love hiking."));
        Assert.Equal("noop", await LearnAsync(t, "I really enjoy going on hikes."));
        var list = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/users/u/memories"));
        Assert.Equal(1, list.GetProperty("items").GetArrayLength());
    }

    private static async Task<string> LearnAsync(TenantClient t, string said)
    {
        var outcome = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/u/memories/extract",
            new { messages = new[] { new { role = "user", content = said } } }, ApiFactory.Json));
        return Assert.Single(outcome.GetProperty("decisions").EnumerateArray()).GetProperty("action").GetString()!;
    }
}
