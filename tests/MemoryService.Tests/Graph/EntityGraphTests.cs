using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using MemoryService.Graph;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Graph;

/// <summary>Few candidates per signal, so a memory the graph reaches is not a candidate anyway by vector or keyword.</summary>
public sealed class GraphApiFactory : ApiFactory
{
    public GraphApiFactory() => Settings["Retrieval:CandidatesPerSignal"] = "10";
}

public sealed class EntityGraphTests(GraphApiFactory api) : IClassFixture<GraphApiFactory>
{
    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    private static async Task<string> Remember(TenantClient t, string user, string content, DateTimeOffset? at = null) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync($"/v1/users/{user}/memories",
            Body(new { content, observed_at = at ?? DateTimeOffset.UtcNow })))).GetProperty("id").GetString()!;

    private static async Task<List<JsonElement>> Entities(TenantClient t, string path) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync(path))).GetProperty("items").EnumerateArray().ToList();

    private static JsonElement Named(List<JsonElement> entities, string name) =>
        Assert.Single(entities, e => e.GetProperty("name").GetString() == name);

    private static string[] Aliases(JsonElement e) => e.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!).ToArray();

    [Fact]
    public async Task FirstPersonTextYieldsPeoplePlacesPetsAndTheUser()
    {
        using var t = await api.NewTenantAsync();
        await Remember(t, "u", "My sister Anna lives in Porto.");
        await Remember(t, "u", "Our dog Rex loves the beach near Matosinhos.");
        await Remember(t, "u", "I started working at Contoso Labs in March.");

        var entities = await Entities(t, "/v1/users/u/entities");
        var anna = Named(entities, "Anna");
        Assert.Equal("person", anna.GetProperty("type").GetString());
        Assert.Contains("sister", Aliases(anna));
        Assert.Equal("place", Named(entities, "Porto").GetProperty("type").GetString());
        Assert.Equal("place", Named(entities, "Matosinhos").GetProperty("type").GetString());
        var rex = Named(entities, "Rex");
        Assert.Equal("pet", rex.GetProperty("type").GetString());
        Assert.Contains("dog", Aliases(rex));
        Assert.Equal("organisation", Named(entities, "Contoso Labs").GetProperty("type").GetString());
        var me = Assert.Single(entities, e => e.GetProperty("is_self").GetBoolean());
        Assert.Equal(3, me.GetProperty("memory_count").GetInt32());
        Assert.DoesNotContain(entities, e => e.GetProperty("name").GetString() is "My" or "Our" or "I" or "March");

        // the user's relations: sister Anna, dog Rex, Anna lives in Porto, the user works at Contoso Labs
        var detail = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/u/entities/{me.GetProperty("id").GetString()}"));
        var relations = detail.GetProperty("relations").EnumerateArray().Select(r => $"{r.GetProperty("subject").GetString()} {r.GetProperty("predicate").GetString()} {r.GetProperty("object").GetString()}").ToList();
        Assert.Contains("me sister Anna", relations);
        Assert.Contains("me dog Rex", relations);
        Assert.Contains("me works_at Contoso Labs", relations);
    }

    [Fact]
    public async Task NameCaseAndAliasesResolveToOneEntity()
    {
        using var t = await api.NewTenantAsync();
        await Remember(t, "u", "My sister Anna is a doctor.");
        await Remember(t, "u", "My sister loves jazz.");
        await Remember(t, "u", "Yesterday ANNA called me.");
        await Remember(t, "u", "Went hiking with Anna.");
        // an alias said before the name: the same entity once the name is known
        await Remember(t, "u", "My brother lives in Berlin.");
        await Remember(t, "u", "My brother Tom is a chef.");

        var entities = await Entities(t, "/v1/users/u/entities");
        Assert.Single(entities, e => e.GetProperty("name").GetString()!.Equals("anna", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(4, Named(entities, "Anna").GetProperty("memory_count").GetInt32());
        var tom = Named(entities, "Tom");
        Assert.Contains("brother", Aliases(tom));
        Assert.Equal(2, tom.GetProperty("memory_count").GetInt32());
        Assert.DoesNotContain(entities, e => e.GetProperty("name").GetString()!.StartsWith("my ", StringComparison.Ordinal));

        var filtered = await Entities(t, "/v1/users/u/entities?q=BROTHER");
        Assert.Equal("Tom", Assert.Single(filtered).GetProperty("name").GetString());
    }

    [Fact]
    public async Task ConcurrentWritesNamingTheSameNewEntityLinkAllTheirMemoriesToOne()
    {
        // each write inserts "Zoltan" if missing and links to the id that won
        using var t = await api.NewTenantAsync();
        await Remember(t, "u", "Bought a chess board."); // the user's row exists: its insert does not order the writes below
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => Remember(t, "u", $"Played chess with Zoltan on day {i}."))));

        var entities = await Entities(t, "/v1/users/u/entities?q=zoltan");
        Assert.Equal(12, Named(entities, "Zoltan").GetProperty("memory_count").GetInt32());
        var detail = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/u/entities/{Named(entities, "Zoltan").GetProperty("id").GetString()}"));
        Assert.Equal(12, detail.GetProperty("memories").GetArrayLength());
    }

    [Fact]
    public async Task CreatesAndEditsOfOneUserNamingTheSameEntitiesAtOnceAllSucceed()
    {
        // creates and content edits both write the owner's version and the same entities (new aliases, new names):
        // whatever order they take those locks in, none may fail or wait on another forever
        using var t = await api.NewTenantAsync();
        var ids = new List<string>();
        for (var i = 0; i < 10; i++) ids.Add(await Remember(t, "u", $"Note {i} about the garden."));

        async Task Edit(string id, int i)
        {
            var patch = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/u/memories/{id}")
            { Content = Body(new { content = $"My cousin Ilse visited Ghent with Marek on day {i}." }) };
            Assert.Equal(HttpStatusCode.OK, (await t.Http.SendAsync(patch)).StatusCode);
        }
        async Task Create(int i)
        {
            var response = await t.Http.PostAsync("/v1/users/u/memories", Body(new { content = $"Marek and my cousin Ilse moved to Ghent, note {i}." }));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        await Task.WhenAll(ids.Select((id, i) => Task.Run(() => Edit(id, i))).Concat(Enumerable.Range(0, 10).Select(i => Task.Run(() => Create(i)))));

        var entities = await Entities(t, "/v1/users/u/entities");
        Assert.Equal(20, Named(entities, "Ilse").GetProperty("memory_count").GetInt32());
        Assert.Equal(20, Named(entities, "Marek").GetProperty("memory_count").GetInt32());
        Assert.Equal(20, Named(entities, "Ghent").GetProperty("memory_count").GetInt32());
    }

    [Fact]
    public async Task ALaterContradictingRelationEndsTheEarlierOne()
    {
        using var t = await api.NewTenantAsync();
        var t1 = DateTimeOffset.UtcNow.AddDays(-60);
        var t2 = DateTimeOffset.UtcNow.AddDays(-5);
        await Remember(t, "u", "Anna lives in Porto.", t1);
        var moved = await Remember(t, "u", "Anna moved to Lisbon.", t2);

        var anna = Named(await Entities(t, "/v1/users/u/entities"), "Anna");
        var detail = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/u/entities/{anna.GetProperty("id").GetString()}"));
        var relations = detail.GetProperty("relations").EnumerateArray().ToList();
        var porto = Assert.Single(relations, r => r.GetProperty("object").GetString() == "Porto");
        var lisbon = Assert.Single(relations, r => r.GetProperty("object").GetString() == "Lisbon");
        Assert.Equal("lives_in", porto.GetProperty("predicate").GetString());
        Assert.False(porto.GetProperty("current").GetBoolean());
        Assert.Equal(t2.ToUnixTimeMilliseconds(), porto.GetProperty("valid_to").GetDateTimeOffset().ToUnixTimeMilliseconds());
        Assert.True(lisbon.GetProperty("current").GetBoolean());
        Assert.Equal(moved, lisbon.GetProperty("memory_id").GetString());
        Assert.Equal(2, detail.GetProperty("memories").GetArrayLength());
    }

    private static async Task<List<JsonElement>> Search(TenantClient t, string user, object body) =>
        (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync($"/v1/users/{user}/memories/search", Body(body))))
            .GetProperty("items").EnumerateArray().ToList();

    [Fact]
    public async Task AMemorySharingNoWordWithTheQueryIsFoundThroughItsEntityWithThePathInExplain()
    {
        using var t = await api.NewTenantAsync();
        var at = DateTimeOffset.UtcNow.AddDays(-30);
        await Remember(t, "u", "My sister Anna is a doctor.", at);
        // fillers that share the query's words, so vector and keyword candidates are all taken by them
        for (var i = 0; i < 30; i++) await Remember(t, "u", $"Where does the number {i} bus live at night, my friend asks", at.AddMinutes(i));
        var lisbon = await Remember(t, "u", "Anna moved to Lisbon last spring.", at.AddDays(3));

        var without = await Search(t, "u", new { query = "where does my sister live", limit = 10, weights = new { graph = 0.0 } });
        Assert.DoesNotContain(without, h => h.GetProperty("memory").GetProperty("id").GetString() == lisbon);

        var with = await Search(t, "u", new { query = "where does my sister live", limit = 10, explain = true });
        var hit = Assert.Single(with, h => h.GetProperty("memory").GetProperty("id").GetString() == lisbon);
        var explain = hit.GetProperty("explain");
        Assert.True(explain.GetProperty("graph").GetDouble() > 0);
        Assert.Equal(["Anna"], explain.GetProperty("graph_path").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task TwoHopsReachAMemoryThroughASecondEntity()
    {
        using var t = await api.NewTenantAsync();
        var at = DateTimeOffset.UtcNow.AddDays(-30);
        await Remember(t, "u", "Our dog Rex stays with Marta when we travel.", at);
        for (var i = 0; i < 30; i++) await Remember(t, "u", $"Who looks after the garden {i} when the dog is out", at.AddMinutes(i));
        var marta = await Remember(t, "u", "Marta moved to Lyon in 2019.", at.AddDays(2));

        var hits = await Search(t, "u", new { query = "who looks after Rex", limit = 50, explain = true });
        var hit = Assert.Single(hits, h => h.GetProperty("memory").GetProperty("id").GetString() == marta);
        Assert.Equal(["Rex", "Marta"], hit.GetProperty("explain").GetProperty("graph_path").EnumerateArray().Select(p => p.GetString()));
        Assert.True(hit.GetProperty("explain").GetProperty("graph").GetDouble() > 0);
    }

    [Fact]
    public async Task MergeFoldsAWrongSplitIntoOneEntity()
    {
        using var t = await api.NewTenantAsync();
        await Remember(t, "u", "Talked with Bob about the trip.");
        await Remember(t, "u", "Robert lives in Leeds.");
        var entities = await Entities(t, "/v1/users/u/entities");
        var bob = Named(entities, "Bob").GetProperty("id").GetString();
        var robert = Named(entities, "Robert").GetProperty("id").GetString();

        var self = await t.Http.PostAsync($"/v1/users/u/entities/{bob}/merge", Body(new { into = bob }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, self.StatusCode);
        var missing = await t.Http.PostAsync($"/v1/users/u/entities/{bob}/merge", Body(new { }));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        var unknown = await t.Http.PostAsync($"/v1/users/u/entities/{bob}/merge", Body(new { into = Guid.NewGuid() }));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        var merged = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync($"/v1/users/u/entities/{bob}/merge", Body(new { into = robert })));
        Assert.Equal(robert, merged.GetProperty("id").GetString());
        Assert.Contains("bob", Aliases(merged));
        Assert.Equal(2, merged.GetProperty("memory_count").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/users/u/entities/{bob}")).StatusCode);

        // a later "Bob" is the merged entity, and searching for Bob now reaches Robert's memories (the cached graph reloaded)
        await Remember(t, "u", "Bob adopted a cat.");
        Assert.Equal(3, Named(await Entities(t, "/v1/users/u/entities"), "Robert").GetProperty("memory_count").GetInt32());
        var hits = await Search(t, "u", new { query = "Bob", explain = true });
        Assert.Contains(hits, h => h.GetProperty("memory").GetProperty("content").GetString() == "Robert lives in Leeds."
            && h.GetProperty("explain").GetProperty("graph").GetDouble() > 0);
    }

    [Fact]
    public async Task ChangingAMemorysContentLinksItAgain()
    {
        using var t = await api.NewTenantAsync();
        var id = await Remember(t, "u", "Met Carla at the market.");
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/u/memories/{id}") { Content = Body(new { content = "Met Dmitri at the market." }) };
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.SendAsync(patch));
        var entities = await Entities(t, "/v1/users/u/entities");
        Assert.Equal(1, Named(entities, "Dmitri").GetProperty("memory_count").GetInt32());
        Assert.Equal(0, Named(entities, "Carla").GetProperty("memory_count").GetInt32());
    }

    [Fact]
    public async Task EraseAndResetLeaveNoEntityOrRelationBehindAndExportIncludesThem()
    {
        using var t = await api.NewTenantAsync();
        await Remember(t, "erased", "My sister Anna moved to Lisbon.");
        await Remember(t, "reset", "Our dog Rex lives in Braga.");

        var export = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/users/erased/export"));
        Assert.Contains(export.GetProperty("entities").EnumerateArray(), e => e.GetProperty("name").GetString() == "Anna");
        Assert.Contains(export.GetProperty("relations").EnumerateArray(), r => r.GetProperty("predicate").GetString() == "lives_in");

        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync("/v1/users/erased")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await t.Http.DeleteAsync("/v1/users/reset/memories")).StatusCode);
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM entities WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM entity_relations WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM entity_mentions WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task KnowledgeHasItsOwnEntitiesWithoutAUser()
    {
        using var t = await api.NewTenantAsync();
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/knowledge", Body(new { content = "Our office is in Rotterdam and we work with Fabrikam Inc." })));
        var entities = await Entities(t, "/v1/knowledge/entities");
        Assert.Equal("place", Named(entities, "Rotterdam").GetProperty("type").GetString());
        Assert.Equal("organisation", Named(entities, "Fabrikam Inc").GetProperty("type").GetString());
        Assert.DoesNotContain(entities, e => e.GetProperty("is_self").GetBoolean());
    }

    [Fact]
    public async Task EntityListPagesByCursorAndRejectsBadInput()
    {
        using var t = await api.NewTenantAsync();
        await Remember(t, "u", "Visited Aveiro, Braga, Coimbra, Evora and Faro with Gil.");
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/users/u/entities?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            Assert.True(page.GetProperty("items").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("name").GetString()!));
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_cursor").GetString();
        } while (cursor is not null);
        Assert.Equal(["Aveiro", "Braga", "Coimbra", "Evora", "Faro", "Gil"], seen);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.GetAsync("/v1/users/u/entities?cursor=nope")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.GetAsync("/v1/users/u/entities?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/users/u/entities/{Guid.NewGuid()}")).StatusCode);
    }

    [Fact]
    public void TheRulesTakeWellUnderAMillisecondPerMemory()
    {
        var rules = new RuleBasedEntityExtractor();
        string[] texts =
        [
            "My sister Anna moved to Lisbon last spring and our dog Rex went with her.",
            "I started working at Contoso Labs in March; my boss, Priya, lives in Cambridge.",
            "Caroline: I went to the LGBTQ support group yesterday and it was so powerful.",
            "Prefers window seats on long flights and dislikes early meetings.",
            new string('x', 3000) + " Anna " + string.Concat(Enumerable.Repeat("My Big Long Name ", 300)),
        ];
        for (var i = 0; i < 500; i++) rules.Extract(texts[i % texts.Length], true);
        // the best of several rounds: the machine running the tests may be busy with other work
        var perMemory = double.MaxValue;
        for (var round = 0; round < 10; round++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 100 * texts.Length; i++) rules.Extract(texts[i % texts.Length], true);
            perMemory = Math.Min(perMemory, watch.Elapsed.TotalMilliseconds / (100 * texts.Length));
        }
        Assert.True(perMemory < 0.5, $"{perMemory:F3} ms per memory");
    }
}
