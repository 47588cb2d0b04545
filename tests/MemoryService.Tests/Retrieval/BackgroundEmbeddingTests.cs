using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Retrieval;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace MemoryService.Tests.Retrieval;

/// <summary>One generation of the service (hashing unless told otherwise) on a database that may outlive it.</summary>
public sealed class ServiceGeneration(string? connectionString = null) : ApiFactory(connectionString);

/// <summary>A batch create is stored at once and embedded by the background worker; a single create embeds inline.</summary>
public sealed class BackgroundEmbeddingTests
{
    private static readonly object VectorOnly = new { similarity = 1.0, keyword = 0.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 };

    private static async Task<List<JsonElement>> Search(HttpClient http, object body) =>
        (await ApiFactory.ReadAsync<JsonElement>(await http.PostAsJsonAsync("/v1/users/u/memories/search", body, ApiFactory.Json)))
        .GetProperty("items").EnumerateArray().ToList();

    private static string Content(JsonElement hit) => hit.GetProperty("memory").GetProperty("content").GetString()!;

    [Fact]
    public async Task AMemoryWaitingForItsVectorIsJudgedByItsWordsNotOutrankedByRowsThatHaveOne()
    {
        // similarity-heavy weights, as the semantic models' defaults are: a row without a vector of the current model must
        // not lose to a weaker match that has one just because its similarity cannot be computed yet
        await using var api = new ServiceGeneration();
        api.Settings["Embeddings:BackgroundWorker"] = "false";
        using var t = await api.NewTenantAsync();
        foreach (var content in new[] { "Plays the cello in an orchestra", "Listens to orchestra recordings on Sundays", "Owns a red bicycle" })
            Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content }, ApiFactory.Json)).StatusCode);
        // the cello memory's vector is of another model now (as right after a model change): pending, no similarity
        Assert.Equal(1L, await api.QueryScalarAsync<long>(
            "WITH u AS (UPDATE memories SET embedding_model = 'hashing-older' WHERE tenant_id = $1 AND content LIKE 'Plays the cello%' RETURNING 1) SELECT count(*) FROM u",
            t.TenantId));

        var weights = new { similarity = 1.0, keyword = 0.1, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 };
        var hits = await Search(t.Http, new { query = "cello orchestra", weights, explain = true });
        Assert.Equal("Plays the cello in an orchestra", Content(hits[0]));
        Assert.Equal(0, hits[0].GetProperty("explain").GetProperty("similarity").GetDouble());
        Assert.True(hits[1].GetProperty("explain").GetProperty("similarity").GetDouble() > 0);
    }

    [Fact]
    public async Task TheWorkerResumesAfterItsLastBatchYetLeavesNoRowBehindThatBecamePendingEarlierInTheOrder()
    {
        await using var api = new ServiceGeneration();
        api.Settings["Embeddings:BackgroundWorker"] = "false";
        using var t = await api.NewTenantAsync();
        var items = Enumerable.Range(0, 512).Select(i => new { content = $"Routine note number {i}" }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/users/u/memories/batch", new { items }, ApiFactory.Json)).StatusCode);
        var worker = api.Services.GetRequiredService<Reembedder>();

        Assert.Equal(256, await worker.RunBatchAsync(CancellationToken.None));
        // the first memory in id order loses its vector again, behind where the worker goes on from
        Assert.Equal(1L, await api.QueryScalarAsync<long>(
            "WITH u AS (UPDATE memories SET embedding = NULL, embedding_model = NULL WHERE id = (SELECT id FROM memories WHERE tenant_id = $1 ORDER BY id LIMIT 1) RETURNING 1) SELECT count(*) FROM u",
            t.TenantId));
        Assert.Equal(256, await worker.RunBatchAsync(CancellationToken.None));
        Assert.Equal(1, await worker.RunBatchAsync(CancellationToken.None)); // nothing after the last batch: from the start
        Assert.Equal(0, await worker.RunBatchAsync(CancellationToken.None));
        var status = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/embeddings/status"));
        Assert.Equal(0, status.GetProperty("pending").GetInt64());
        Assert.Equal(512, status.GetProperty("current").GetInt64());
    }

    [Fact]
    public async Task ABatchIsKeywordSearchableAtOnceAndVectorSearchableOnceTheWorkerHasRunAcrossARestart()
    {
        // 1. a service whose worker has not run yet (as if it stopped right after acknowledging the batch)
        var first = new ServiceGeneration();
        first.Settings["Embeddings:BackgroundWorker"] = "false";
        using var t = await first.NewTenantAsync();
        var single = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content = "Owns a red bicycle" }, ApiFactory.Json));
        Assert.StartsWith("hashing-", single.GetProperty("embedding_model").GetString()); // a single create embeds inline

        var items = Enumerable.Range(0, 50).Select(i => new { content = i == 17 ? "Plays the cello in an orchestra" : $"Routine note number {i}" }).ToList();
        var batch = await t.Http.PostAsJsonAsync("/v1/users/u/memories/batch", new { items }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
        Assert.All((await ApiFactory.ReadAsync<JsonElement>(batch)).GetProperty("items").EnumerateArray(),
            m => Assert.Equal(JsonValueKind.Null, m.GetProperty("embedding_model").ValueKind));
        var status = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/embeddings/status"));
        Assert.Equal(51, status.GetProperty("total").GetInt64());
        Assert.Equal(50, status.GetProperty("pending").GetInt64());

        // found by its words at once; not by meaning yet: "orchestral cellists" shares no lexeme with it, only character n-grams
        Assert.Equal("Plays the cello in an orchestra", Content((await Search(t.Http, new { query = "cello" }))[0]));
        Assert.DoesNotContain(await Search(t.Http, new { query = "orchestral cellists", weights = VectorOnly }), h => Content(h).Contains("cello"));
        var key = t.Http.DefaultRequestHeaders.Authorization!;
        await first.DisposeAsync(); // the service stops; the database stays

        // 2. the next start picks the pending batch up
        await using var second = new ServiceGeneration(first.ConnectionString);
        using var http = second.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(key.Scheme, key.Parameter);
        status = await ApiFactory.WaitForEmbeddingsAsync(http);
        Assert.Equal(0, status.GetProperty("pending").GetInt64());
        Assert.Equal(51L, await second.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding IS NOT NULL AND embedding_model = $2", t.TenantId, status.GetProperty("model").GetString()!));

        var byMeaning = await Search(http, new { query = "orchestral cellists", weights = VectorOnly, explain = true });
        Assert.Equal("Plays the cello in an orchestra", Content(byMeaning[0]));
        Assert.True(byMeaning[0].GetProperty("explain").GetProperty("similarity").GetDouble() > 0);
    }
}
