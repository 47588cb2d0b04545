using System.Net;
using System.Text;
using System.Text.Json;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MemoryService.Tests.Retrieval;

/// <summary>A second service process over the same database, as a second replica behind a load balancer would be.</summary>
public sealed class ReplicaFactory(string connectionString) : ApiFactory(connectionString);

/// <summary>
/// The in-memory index each replica keeps per owner: it must never serve a state older than the database, whoever
/// wrote (this replica, another one, plain SQL), and a reload after a change must equal a full load.
/// </summary>
public sealed class MemoryIndexTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    private static async Task<List<string>> Contents(HttpClient http, string user, string query)
    {
        var result = await ApiFactory.ReadAsync<JsonElement>(await http.PostAsync($"/v1/users/{user}/memories/search",
            Body(new { query, limit = 50, include_knowledge = false })));
        return result.GetProperty("items").EnumerateArray().Select(h => h.GetProperty("memory").GetProperty("content").GetString()!).ToList();
    }

    /// <summary>A client of another replica with the tenant's key.</summary>
    private static HttpClient ClientAs(ReplicaFactory replica, TenantClient t)
    {
        var client = replica.CreateClient();
        client.DefaultRequestHeaders.Authorization = t.Http.DefaultRequestHeaders.Authorization;
        return client;
    }

    private static async Task<string> Create(HttpClient http, string user, string content) =>
        (await ApiFactory.ReadAsync<JsonElement>(await http.PostAsync($"/v1/users/{user}/memories", Body(new { content })))).GetProperty("id").GetString()!;

    [Fact]
    public async Task AReplicaWithAWarmIndexSeesAnotherReplicasWritesAtOnce()
    {
        using var t = await api.NewTenantAsync();
        await using var replica = new ReplicaFactory(api.ConnectionString);
        using var other = ClientAs(replica, t);

        var first = await Create(t.Http, "u", "Drinks oat milk in coffee");
        Assert.Equal(["Drinks oat milk in coffee"], await Contents(other, "u", "coffee milk")); // warm on the other replica

        await Create(t.Http, "u", "Takes coffee black on weekends");
        Assert.Equal(2, (await Contents(other, "u", "coffee")).Count);

        Assert.Equal(HttpStatusCode.OK, (await t.Http.PatchAsync($"/v1/users/u/memories/{first}",
            new StringContent("""{"content":"Drinks soy milk in coffee"}""", Encoding.UTF8, "application/merge-patch+json"))).StatusCode);
        Assert.Contains("Drinks soy milk in coffee", await Contents(other, "u", "coffee milk"));
        Assert.DoesNotContain("Drinks oat milk in coffee", await Contents(other, "u", "coffee milk"));

        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/users/u/memories/{first}")).StatusCode);
        Assert.Equal(["Takes coffee black on weekends"], await Contents(other, "u", "coffee milk"));
    }

    [Fact]
    public async Task ConcurrentCreatesForOneUserAreEachServedByAWarmReplicaOnceAcknowledged()
    {
        // a create moves its owner's version itself, not through the trigger; concurrent ones must still move it in commit
        // order, or a replica could cache a state that misses a write committed just before a later one's
        using var t = await api.NewTenantAsync();
        await using var replica = new ReplicaFactory(api.ConnectionString);
        using var other = ClientAs(replica, t);
        await Create(t.Http, "u", "Note zero about gardening");
        Assert.Single(await Contents(other, "u", "note gardening")); // warm on the other replica

        async Task CreateThenSee(int i)
        {
            var content = $"Note {i} about gardening";
            await Create(t.Http, "u", content);
            Assert.Contains(content, await Contents(other, "u", "note gardening"));
        }
        await Task.WhenAll(Enumerable.Range(1, 24).Select(CreateThenSee));
        Assert.Equal(25, (await Contents(other, "u", "note gardening")).Count);
        Assert.Equal(25, (await Contents(t.Http, "u", "note gardening")).Count);
    }

    [Fact]
    public async Task ChangesMadeInSqlBehindTheServicesBackAreServed()
    {
        using var t = await api.NewTenantAsync();
        var id = await Create(t.Http, "u", "Plays the cello every evening");
        await Create(t.Http, "u", "Plays tennis on Sundays");
        Assert.Equal(2, (await Contents(t.Http, "u", "plays")).Count); // cached now

        await api.QueryScalarAsync<int>("UPDATE memories SET content = 'Plays the viola every evening' WHERE id = $1 RETURNING 1", Guid.Parse(id));
        Assert.Contains("Plays the viola every evening", await Contents(t.Http, "u", "viola"));

        await api.QueryScalarAsync<int>("UPDATE memories SET valid_to = now() WHERE id = $1 RETURNING 1", Guid.Parse(id));
        Assert.Equal(["Plays tennis on Sundays"], await Contents(t.Http, "u", "plays"));

        await api.QueryScalarAsync<int>("DELETE FROM memories WHERE tenant_id = $1 RETURNING 1", t.TenantId);
        Assert.Empty(await Contents(t.Http, "u", "plays"));
    }

    [Fact]
    public async Task EveryWriteMovesTheOwnersVersionButAccessStatisticsDoNot()
    {
        using var t = await api.NewTenantAsync();
        await Create(t.Http, "u", "Likes hiking in the Alps");
        async Task<long> UserVersion() => await api.QueryScalarAsync<long>("SELECT memory_version FROM users WHERE tenant_id = $1 AND id = 'u'", t.TenantId);
        async Task<long> KnowledgeVersion() => await api.QueryScalarAsync<long>("SELECT knowledge_version FROM tenants WHERE id = $1", t.TenantId);

        var before = await UserVersion();
        Assert.Single(await Contents(t.Http, "u", "hiking"));
        await api.Services.GetRequiredService<AccessTracker>().FlushAsync(CancellationToken.None);
        Assert.Equal(1, await api.QueryScalarAsync<int>("SELECT access_count FROM memories WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(before, await UserVersion());

        await Create(t.Http, "u", "Likes skiing too");
        var afterWrite = await UserVersion();
        Assert.True(afterWrite > before);

        var knowledge = await KnowledgeVersion();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/knowledge", Body(new { content = "Refunds take five days" }))).StatusCode);
        Assert.True(await KnowledgeVersion() > knowledge);
        Assert.Equal(afterWrite, await UserVersion());
    }

    [Fact]
    public async Task AUserErasedAndCreatedAgainIsNeverServedFromTheOldIndex()
    {
        using var t = await api.NewTenantAsync();
        await Create(t.Http, "u", "Old life: lives in Oslo");
        Assert.Single(await Contents(t.Http, "u", "lives"));
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync("/v1/users/u")).StatusCode);
        await Create(t.Http, "u", "New life: lives in Lima");
        Assert.Equal(["New life: lives in Lima"], await Contents(t.Http, "u", "lives"));
    }

    [Fact]
    public async Task AReloadAfterChangesEqualsAFullLoad()
    {
        using var t = await api.NewTenantAsync();
        var items = Enumerable.Range(0, 40).Select(i => new { content = $"Fact number {i} about gardening and tomatoes", importance = 0.5 }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items }))).StatusCode);
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        var owner = new Owner(t.TenantId, "u");
        await using var conn = await api.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        var first = await OwnerIndex.LoadAsync(conn, owner, null, DateTimeOffset.UtcNow, CancellationToken.None);

        // Changes of every kind behind the snapshot: new rows, edited rows, superseded and deleted rows, access counts.
        await Create(t.Http, "u", "A new fact about roses");
        await api.QueryScalarAsync<int>("""
            WITH ids AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM memories WHERE tenant_id = $1)
            UPDATE memories m SET content = m.content || ' (edited)', importance = 0.9 FROM ids WHERE m.id = ids.id AND ids.n % 7 = 0 RETURNING 1
            """, t.TenantId);
        await api.QueryScalarAsync<int>("""
            WITH ids AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM memories WHERE tenant_id = $1)
            UPDATE memories m SET valid_to = now() FROM ids WHERE m.id = ids.id AND ids.n % 11 = 0 RETURNING 1
            """, t.TenantId);
        await api.QueryScalarAsync<int>("""
            WITH ids AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM memories WHERE tenant_id = $1)
            DELETE FROM memories m USING ids WHERE m.id = ids.id AND ids.n % 13 = 0 RETURNING 1
            """, t.TenantId);
        await api.QueryScalarAsync<int>("UPDATE memories SET access_count = 3 WHERE tenant_id = $1 AND content LIKE 'Fact number 1 %' RETURNING 1", t.TenantId);

        var reloaded = await OwnerIndex.LoadAsync(conn, owner, first, DateTimeOffset.UtcNow, CancellationToken.None);
        var full = await OwnerIndex.LoadAsync(conn, owner, null, DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.Equal(full.Version, reloaded.Version);
        Assert.True(reloaded.Version > first.Version);
        Assert.Equal(Describe(full), Describe(reloaded));
        Assert.Equal(41 - 3 - 3, full.Count); // 41 rows, 3 superseded, 3 deleted
        // unchanged rows are reused as they were, not read again
        var unchanged = first.Rows.First(r => r.Memory.Content == "Fact number 0 about gardening and tomatoes");
        Assert.Same(unchanged, reloaded.Rows.Single(r => r.Memory.Id == unchanged.Memory.Id));
    }

    private static List<string> Describe(OwnerIndex index) => index.Rows.Select(r =>
        $"{r.Memory.Id} {r.Memory.Content} {r.Memory.Importance} {r.Memory.AccessCount} {r.Xmin} {r.Seq} {string.Join(',', r.Lexemes)} " +
        $"{(r.Vector is null ? "" : string.Join(",", r.Vector))} {r.Norm:R}").ToList();

    [Fact]
    public async Task AnOwnerReadForOneRequestRanksExactlyAsACachedOne()
    {
        using var t = await api.NewTenantAsync();
        string[] topics = ["peanut allergy", "running at dawn", "jazz piano", "trip to Kyoto", "sourdough baking", "tax deadline"];
        var items = Enumerable.Range(0, 60).Select(i => new
        {
            content = $"Note {i} on {topics[i % topics.Length]}: {(i % 4 == 0 ? "important" : "minor")} detail number {i * 7 % 13}",
            kind = i % 3 == 0 ? "preference" : i % 3 == 1 ? "fact" : "event",
            tags = new[] { i % 2 == 0 ? "even" : "odd" },
            metadata = new { bucket = i % 5 },
            importance = 0.2 + i % 5 * 0.15,
            observed_at = DateTimeOffset.UtcNow.AddDays(-i).AddMinutes(i % 7),
        }).ToList();
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items }))).StatusCode);
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        foreach (var k in new[] { "Peanuts are listed on every menu", "Kyoto trains run until midnight" })
            Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/knowledge", Body(new { content = k }))).StatusCode);

        await using var uncached = new ReplicaFactory(api.ConnectionString);
        uncached.Settings["Retrieval:IndexCacheMegabytes"] = "0";
        using var cold = ClientAs(uncached, t);
        var index = uncached.Services.GetRequiredService<MemoryIndex>();

        // Activation aside: each replica counts its own searches as accesses at once, another's only after a reload.
        var weights = new { similarity = 0.3, keyword = 0.7, recency = 0.04, importance = 0.04, activation = 0.0, context = 0.4 };
        object[] searches =
        [
            new { query = "peanut allergy on the menu", limit = 20, weights },
            new { query = "what did I bake", limit = 20, weights, include_knowledge = false },
            new { query = "Kyoto trip", limit = 10, weights, kinds = new[] { "event", "fact" }, tags = new[] { "even" } },
            new { query = "piano", limit = 10, weights, metadata = new { bucket = new { @in = new[] { 1, 3 } } } },
            new { query = "detail number 6", limit = 30, weights, min_score = 0.1 },
        ];
        foreach (var search in searches)
        {
            var loads = index.Loads;
            var warm = await Hits(t.Http, search);
            var read = await Hits(cold, search);
            Assert.True(index.Loads > loads); // the uncached replica read the owner for this request
            Assert.NotEmpty(warm);
            Assert.Equal(warm.Select(h => h.Id), read.Select(h => h.Id));
            Assert.All(warm.Zip(read), p => Assert.Equal(p.First.Score, p.Second.Score, 2e-6));
        }

        // Served memories carry their metadata, from memory and from the database alike.
        foreach (var http in new[] { t.Http, cold })
        {
            var result = await ApiFactory.ReadAsync<JsonElement>(await http.PostAsync("/v1/users/u/memories/search",
                Body(new { query = "piano", metadata = new { bucket = new { @in = new[] { 1, 3 } } } })));
            var buckets = result.GetProperty("items").EnumerateArray()
                .Select(h => h.GetProperty("memory").GetProperty("metadata").GetProperty("bucket").GetInt32()).ToList();
            Assert.NotEmpty(buckets);
            Assert.All(buckets, b => Assert.Contains(b, new[] { 1, 3 }));
        }
    }

    [Fact]
    public async Task AContextBuiltFromAnOwnerReadForOneRequestIsTheSameContext()
    {
        using var t = await api.NewTenantAsync();
        var items = new object[]
        {
            new { content = "Prefers answers in Spanish", kind = "preference", importance = 0.9 },
            new { content = "Prefers metric units", kind = "preference", importance = 0.6 },
            new { content = "Works as a nurse in Lisbon", kind = "fact" },
            new { content = "Flew to Kyoto for a conference", kind = "event", observed_at = DateTimeOffset.UtcNow.AddDays(-3) },
            new { content = "Cooked paella for a friend", kind = "event", observed_at = DateTimeOffset.UtcNow.AddDays(-1) },
            new { content = "Is allergic to peanuts", kind = "fact", expires_at = DateTimeOffset.UtcNow.AddDays(30) },
        };
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items }))).StatusCode);
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsync("/v1/knowledge", Body(new { content = "Peanut-free meals are marked with a leaf" }))).StatusCode);

        await using var uncached = new ReplicaFactory(api.ConnectionString);
        uncached.Settings["Retrieval:IndexCacheMegabytes"] = "0";
        using var cold = ClientAs(uncached, t);

        async Task<JsonElement> Context(HttpClient http) => await ApiFactory.ReadAsync<JsonElement>(
            await http.PostAsync("/v1/users/u/context", Body(new { query = "Can I eat peanuts on the flight?", token_budget = 400 })));
        var warm = await Context(t.Http);
        var read = await Context(cold);
        Assert.Contains("Is allergic to peanuts", warm.GetProperty("system_prompt").GetString());
        Assert.Contains("Peanut-free meals", warm.GetProperty("system_prompt").GetString());
        Assert.Equal(warm.GetProperty("system_prompt").GetString(), read.GetProperty("system_prompt").GetString());
        Assert.Equal(warm.GetProperty("token_count").GetInt32(), read.GetProperty("token_count").GetInt32());
    }

    private static async Task<List<(string Id, double Score)>> Hits(HttpClient http, object search)
    {
        var result = await ApiFactory.ReadAsync<JsonElement>(await http.PostAsync("/v1/users/u/memories/search", Body(search)));
        return result.GetProperty("items").EnumerateArray()
            .Select(h => (h.GetProperty("memory").GetProperty("id").GetString()!, h.GetProperty("score").GetDouble())).ToList();
    }
}
