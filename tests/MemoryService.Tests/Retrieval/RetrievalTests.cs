using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MemoryService.Retrieval;
using MemoryService.Tests.Foundation;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace MemoryService.Tests.Retrieval;

public sealed class RetrievalTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly object VectorOnly = new { similarity = 1.0, keyword = 0.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 };

    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    private static async Task<string> Create(TenantClient t, string user, object body) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync($"/v1/users/{user}/memories", Body(body)))).GetProperty("id").GetString()!;

    private static async Task<List<JsonElement>> Search(TenantClient t, string user, object body)
    {
        var result = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync($"/v1/users/{user}/memories/search", Body(body)));
        return result.GetProperty("items").EnumerateArray().ToList();
    }

    private static string IdOf(JsonElement hit) => hit.GetProperty("memory").GetProperty("id").GetString()!;

    [Fact]
    public async Task NewerMemoryOutranksAnOlderEqualOne()
    {
        using var t = await api.NewTenantAsync();
        var old = await Create(t, "u", new { content = "Prefers window seats on flights", observed_at = DateTimeOffset.UtcNow.AddDays(-120) });
        var recent = await Create(t, "u", new { content = "Prefers window seats on flights", observed_at = DateTimeOffset.UtcNow.AddDays(-1) });
        var hits = await Search(t, "u", new { query = "window seat on a flight", explain = true });
        Assert.Equal([recent, old], hits.Select(IdOf));
        Assert.True(hits[0].GetProperty("explain").GetProperty("recency").GetDouble() > hits[1].GetProperty("explain").GetProperty("recency").GetDouble());
    }

    [Fact]
    public async Task ImportanceRaisesRank()
    {
        using var t = await api.NewTenantAsync();
        var at = DateTimeOffset.UtcNow.AddHours(-3);
        var minor = await Create(t, "u", new { content = "Likes green tea", importance = 0.1, observed_at = at });
        var major = await Create(t, "u", new { content = "Likes green tea", importance = 0.9, observed_at = at });
        var hits = await Search(t, "u", new { query = "green tea" });
        Assert.Equal([major, minor], hits.Select(IdOf));
    }

    [Fact]
    public async Task FrequentlyRetrievedMemoryGainsActivation()
    {
        using var t = await api.NewTenantAsync();
        var at = DateTimeOffset.UtcNow.AddHours(-3);
        var plain = await Create(t, "u", new { content = "Enjoys long walks by the river", key = "walk_a", observed_at = at });
        var used = await Create(t, "u", new { content = "Enjoys long walks by the river", key = "walk_b", observed_at = at });
        for (var i = 0; i < 5; i++) await Search(t, "u", new { query = "walks", key = "walk_b" });
        await api.Services.GetRequiredService<AccessTracker>().FlushAsync(CancellationToken.None);

        var hits = await Search(t, "u", new { query = "long walks by the river", explain = true });
        Assert.Equal([used, plain], hits.Select(IdOf));
        Assert.True(hits[0].GetProperty("explain").GetProperty("activation").GetDouble() > hits[1].GetProperty("explain").GetProperty("activation").GetDouble());
        Assert.Equal(5, hits[0].GetProperty("memory").GetProperty("access_count").GetInt32());
    }

    [Fact]
    public async Task KeywordOnlyMatchIsFound()
    {
        using var t = await api.NewTenantAsync();
        var target = await Create(t, "u", new { content = "Collects zygomorphic orchids" });
        for (var i = 0; i < 30; i++) await Create(t, "u", new { content = $"Went to the cinema on day {i} with friends" });
        var hits = await Search(t, "u", new { query = "zygomorphic", limit = 3, explain = true,
            weights = new { similarity = 0.0, keyword = 1.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0 } });
        Assert.Equal(target, IdOf(hits[0]));
        Assert.Equal(1.0, hits[0].GetProperty("explain").GetProperty("keyword").GetDouble());
        Assert.All(hits.Skip(1), h => Assert.Equal(0.0, h.GetProperty("explain").GetProperty("keyword").GetDouble()));
    }

    [Fact]
    public async Task SupersededExpiredAndDeletedMemoriesAreNeverReturned()
    {
        using var t = await api.NewTenantAsync();
        var live = await Create(t, "u", new { content = "Drinks oat milk lattes" });
        var superseded = await Create(t, "u", new { content = "Drinks whole milk lattes" });
        var expired = await Create(t, "u", new { content = "Drinks soy milk lattes", expires_at = DateTimeOffset.UtcNow.AddSeconds(-1) });
        var deleted = await Create(t, "u", new { content = "Drinks almond milk lattes" });
        await api.QueryScalarAsync<int>("UPDATE memories SET valid_to = now(), superseded_by = $1 WHERE id = $2 RETURNING 1", Guid.Parse(live), Guid.Parse(superseded));
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/users/u/memories/{deleted}")).StatusCode);

        var hits = await Search(t, "u", new { query = "milk lattes", limit = 100 });
        Assert.Equal([live], hits.Select(IdOf));
        Assert.DoesNotContain(hits, h => IdOf(h) == expired);
    }

    [Fact]
    public async Task FiltersAreHonoured()
    {
        using var t = await api.NewTenantAsync();
        var a = await Create(t, "u", new { content = "Trip to Rome in May", kind = "event", tags = new[] { "travel" }, metadata = new { city = "rome", year = 2026 } });
        var b = await Create(t, "u", new { content = "Trip to Paris in June", kind = "event", tags = new[] { "travel", "work" }, metadata = new { city = "paris", year = 2025 } });
        var c = await Create(t, "u", new { content = "Prefers trips by train", kind = "preference", key = "travel_mode" });

        async Task<string[]> Ids(object body) => (await Search(t, "u", body)).Select(IdOf).Order().ToArray();
        Assert.Equal(new[] { a, b }.Order(), await Ids(new { query = "trip", kinds = new[] { "event" } }));
        Assert.Equal([b], await Ids(new { query = "trip", tags = new[] { "work" } }));
        Assert.Equal([c], await Ids(new { query = "trip", key = "travel_mode" }));
        Assert.Equal([a], await Ids(new { query = "trip", metadata = new { city = "rome" } }));
        Assert.Equal([b], await Ids(new { query = "trip", metadata = new { year = 2025 } }));
        Assert.Equal(new[] { a, b }.Order(), await Ids(new { query = "trip", metadata = new { city = new { @in = new[] { "rome", "paris" } } } }));
        Assert.Empty(await Ids(new { query = "trip", metadata = new { city = "oslo" } }));
        Assert.All(await Search(t, "u", new { query = "trip", min_score = 0.99 }), h => Assert.True(h.GetProperty("score").GetDouble() >= 0.99));
    }

    [Fact]
    public async Task OtherUsersAndTenantsNeverAppearAndKnowledgeIsIncludedUnlessExcluded()
    {
        using var t = await api.NewTenantAsync();
        using var other = await api.NewTenantAsync();
        var mine = await Create(t, "u", new { content = "Allergic to peanuts" });
        await Create(t, "someone-else", new { content = "Allergic to peanuts and cats" });
        await Create(other, "u", new { content = "Allergic to peanuts too" });
        var knowledge = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/knowledge",
            Body(new { content = "Peanut-free meals can be ordered at checkout" })))).GetProperty("id").GetString();
        await other.Http.PostAsync("/v1/knowledge", Body(new { content = "Peanuts are served on all flights" }));

        var hits = (await Search(t, "u", new { query = "peanuts", limit = 100 })).Select(IdOf).ToList();
        Assert.Equal(new[] { mine, knowledge }.Order(), hits.Order());
        var userOnly = (await Search(t, "u", new { query = "peanuts", include_knowledge = false })).Select(IdOf);
        Assert.Equal([mine], userOnly);
        var kb = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/knowledge/search", Body(new { query = "peanuts" })));
        Assert.Equal([knowledge], kb.GetProperty("items").EnumerateArray().Select(IdOf));
    }

    [Fact]
    public async Task PerUserSearchEqualsAnExactScanAmongFiftyThousandOtherMemories()
    {
        using var t = await api.NewTenantAsync();
        var items = Enumerable.Range(0, 300).Select(i => new { content = $"Note {i}: {Words(i)}" }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/users/target/memories/batch", Body(new { items }))).StatusCode);
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        // 50,000 memories of 500 other users of the same tenant, with vectors of the same model
        await api.QueryScalarAsync<int>("""
            WITH u AS (INSERT INTO users (tenant_id, id) SELECT $1, 'other-' || g FROM generate_series(1, 500) g RETURNING id)
            INSERT INTO memories (id, tenant_id, user_id, kind, content, importance, confidence, source, observed_at, created_at, updated_at,
                                  valid_from, embedding, embedding_model)
            SELECT gen_random_uuid(), $1, 'other-' || (1 + g % 500), 'fact', 'filler ' || g, 0.5, 1, 'user', now(), now(), now(), now(),
                   (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 384) s WHERE g > 0)::vector,
                   (SELECT embedding_model FROM memories WHERE tenant_id = $1 AND user_id = 'target' LIMIT 1)
            FROM generate_series(1, 50000) g
            RETURNING 1
            """, t.TenantId);
        Assert.Equal(50300L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));

        // Both ways an owner is searched: from the index this replica keeps in memory (cosines in double precision),
        // and read for the request alone by a replica with no cache (cosines by pgvector, in float: ties within 1e-6).
        await using var uncached = new ReplicaFactory(api.ConnectionString);
        uncached.Settings["Retrieval:IndexCacheMegabytes"] = "0";
        using var cold = uncached.CreateClient();
        cold.DefaultRequestHeaders.Authorization = t.Http.DefaultRequestHeaders.Authorization;
        foreach (var (client, tie) in new[] { (t, 1e-9), (t with { Http = cold }, 1e-6) })
            foreach (var query in new[] { "apples and oranges", "note about the weather", "bicycle repair" })
            {
                const int k = 50;
                var hits = await Search(client, "target", new { query, limit = k, weights = VectorOnly, include_knowledge = false, explain = true });
                var vector = (await api.Services.GetRequiredService<Embedder>().EmbedQueryAsync(query, CancellationToken.None));
                var exact = await ExactScan(t.TenantId, "target", vector);
                var kth = exact.Values.OrderDescending().ElementAt(k - 1);
                var returned = hits.Select(IdOf).ToList();
                // Exactly the top k: everything above the k-th cosine is returned, nothing below it, in order (floating-point
                // ties may come in either order), each with its true cosine.
                Assert.Equal(k, returned.Distinct().Count());
                Assert.All(exact.Where(e => e.Value > kth + tie), e => Assert.Contains(e.Key, returned));
                Assert.All(returned, id => Assert.True(exact[id] >= kth - tie));
                for (var i = 1; i < k; i++) Assert.True(exact[returned[i - 1]] >= exact[returned[i]] - tie);
                Assert.All(hits, h => Assert.Equal(exact[IdOf(h)], h.GetProperty("explain").GetProperty("similarity").GetDouble(), 1e-6));
            }
    }

    /// <summary>
    /// The exact answer, computed here: every one of the user's stored vectors read over a plain connection (sequential
    /// scan, no index), with its cosine to the query in double precision.
    /// </summary>
    private async Task<Dictionary<string, double>> ExactScan(Guid tenant, string user, float[] vector)
    {
        await using var conn = new Npgsql.NpgsqlConnection(api.ConnectionString);
        await conn.OpenAsync();
        await using (var noIndex = new Npgsql.NpgsqlCommand("SET enable_indexscan = off", conn)) await noIndex.ExecuteNonQueryAsync();
        await using (var noBitmap = new Npgsql.NpgsqlCommand("SET enable_bitmapscan = off", conn)) await noBitmap.ExecuteNonQueryAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT id, embedding::real[] FROM memories WHERE tenant_id = $1 AND user_id = $2", conn);
        cmd.Parameters.AddWithValue(tenant);
        cmd.Parameters.AddWithValue(user);
        var scored = new Dictionary<string, double>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var v = reader.GetFieldValue<float[]>(1);
            double dot = 0, na = 0, nb = 0;
            for (var i = 0; i < v.Length; i++) { dot += (double)v[i] * vector[i]; na += (double)v[i] * v[i]; nb += (double)vector[i] * vector[i]; }
            scored[reader.GetGuid(0).ToString()] = dot / Math.Sqrt(na * nb);
        }
        return scored;
    }

    private static string Words(int i)
    {
        string[] words = ["apple", "orange", "weather", "rain", "bicycle", "repair", "garden", "music", "piano", "travel", "train", "coffee"];
        return string.Join(' ', Enumerable.Range(0, 4).Select(j => words[(i * 7 + j * 5 + i / 3) % words.Length]));
    }

    public static TheoryData<string, string> BadSearches => new()
    {
        { """{"query":""}""", "query" },
        { """{"query":"x","limit":0}""", "limit" },
        { """{"query":"x","limit":101}""", "limit" },
        { """{"query":"x","min_score":2}""", "min_score" },
        { """{"query":"x","kinds":["opinion"]}""", "kinds[0]" },
        { """{"query":"x","metadata":{"city":{"like":"r%"}}}""", "metadata.city" },
        { """{"query":"x","weights":{"similarity":-1}}""", "weights" },
        { """{"query":"x","limitt":5}""", "limitt" },
    };

    [Theory]
    [MemberData(nameof(BadSearches))]
    public async Task BadSearchInputGets400NamingTheField(string body, string field)
    {
        using var t = await api.NewTenantAsync();
        var response = await t.Http.PostAsync("/v1/users/u/memories/search", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await FoundationTests.AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}
