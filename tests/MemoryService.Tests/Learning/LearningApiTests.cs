using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Learning;

/// <summary>POST /v1/users/{user_id}/memories/extract with the built-in extractor and rules, over HTTP.</summary>
public sealed class LearningApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task PescatarianSupersedesVegetarianAndLeavesSearchButNotHistory()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();

        var first = await LearnAsync(tenant, user, "I'm vegetarian.");
        var added = Assert.Single(Decisions(first));
        Assert.Equal("add", added.GetProperty("action").GetString());
        Assert.Equal("diet", added.GetProperty("candidate").GetProperty("key").GetString());
        var vegetarianId = added.GetProperty("memory_ids")[0].GetGuid();

        var second = await LearnAsync(tenant, user, "Actually I eat fish now, I'm pescatarian.");
        var superseding = Assert.Single(Decisions(second));
        Assert.Equal("supersede", superseding.GetProperty("action").GetString());
        var ids = superseding.GetProperty("memory_ids").EnumerateArray().Select(x => x.GetGuid()).ToList();
        var pescatarianId = ids[0];
        Assert.Equal([pescatarianId, vegetarianId], ids);

        // the old row: valid_to set, superseded_by the new one
        var old = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{vegetarianId}"));
        Assert.NotEqual(JsonValueKind.Null, old.GetProperty("valid_to").ValueKind);
        Assert.Equal(pescatarianId, old.GetProperty("superseded_by").GetGuid());
        Assert.Equal(1L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND key = 'diet' AND valid_to IS NULL", tenant.TenantId, user));

        // gone from search and the default list
        var search = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.PostAsJsonAsync($"/v1/users/{user}/memories/search",
            new { query = "vegetarian diet" }, ApiFactory.Json));
        var hits = search.GetProperty("items").EnumerateArray().Select(h => h.GetProperty("memory").GetProperty("id").GetGuid()).ToList();
        Assert.DoesNotContain(vegetarianId, hits);
        Assert.Contains(pescatarianId, hits);
        var list = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories"));
        var listed = list.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("content").GetString()).ToList();
        Assert.Equal(["Is pescatarian"], listed);

        // still in history (superseded event) and export
        var history = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{vegetarianId}/history"));
        var events = history.GetProperty("items").EnumerateArray().Select(h => h.GetProperty("event").GetString()).ToList();
        Assert.Equal(["created", "superseded"], events);
        var export = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/export"));
        Assert.Contains(export.GetProperty("memories").EnumerateArray(), m => m.GetProperty("id").GetGuid() == vegetarianId);
    }

    [Fact]
    public async Task SameStatementTwiceIsOneMemoryWithConfidenceBumped()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        var first = Assert.Single(Decisions(await LearnAsync(tenant, user, "I have a dog.")));
        var id = first.GetProperty("memory_ids")[0].GetGuid();
        var before = await factory.QueryScalarAsync<float>("SELECT confidence FROM memories WHERE id = $1", id);

        var second = Assert.Single(Decisions(await LearnAsync(tenant, user, "I have a dog.")));

        Assert.Equal("noop", second.GetProperty("action").GetString());
        Assert.Equal(id, second.GetProperty("memory_ids")[0].GetGuid());
        Assert.Equal(1L, await CountAsync(tenant, user));
        Assert.True(await factory.QueryScalarAsync<float>("SELECT confidence FROM memories WHERE id = $1", id) > before);
        Assert.Equal(1, await factory.QueryScalarAsync<int>("SELECT access_count FROM memories WHERE id = $1", id));
    }

    [Fact]
    public async Task ParaphraseIsANoop()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        Assert.Equal("add", Assert.Single(Decisions(await LearnAsync(tenant, user, "I love hiking."))).GetProperty("action").GetString());

        var again = Assert.Single(Decisions(await LearnAsync(tenant, user, "I really enjoy hiking.")));

        Assert.Equal("noop", again.GetProperty("action").GetString());
        Assert.Equal(1L, await CountAsync(tenant, user));
    }

    [Fact]
    public async Task RefinementIsAnUpdate()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        var id = Assert.Single(Decisions(await LearnAsync(tenant, user, "I have a dog."))).GetProperty("memory_ids")[0].GetGuid();

        var refined = Assert.Single(Decisions(await LearnAsync(tenant, user, "I have a dog named Rex.")));

        Assert.Equal("update", refined.GetProperty("action").GetString());
        Assert.Equal(id, refined.GetProperty("memory_ids")[0].GetGuid());
        var memory = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{id}"));
        Assert.Equal("Has a dog named Rex", memory.GetProperty("content").GetString());
        Assert.Equal(2, memory.GetProperty("version").GetInt32());
        Assert.Equal(1L, await CountAsync(tenant, user));
        var history = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{id}/history"));
        Assert.Equal("updated", history.GetProperty("items")[1].GetProperty("event").GetString());
    }

    [Fact]
    public async Task DryRunDecidesButWritesNothing()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        await LearnAsync(tenant, user, "I'm vegetarian.");
        var memories = await CountAsync(tenant, user);
        var history = await factory.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1", tenant.TenantId);

        var outcome = await LearnAsync(tenant, user, "I'm pescatarian now. I have a cat.", dryRun: true);

        Assert.True(outcome.GetProperty("dry_run").GetBoolean());
        var actions = Decisions(outcome).Select(d => d.GetProperty("action").GetString()).ToList();
        Assert.Contains("supersede", actions);
        Assert.Contains("add", actions);
        Assert.Equal(memories, await CountAsync(tenant, user));
        Assert.Equal(history, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1", tenant.TenantId));
        Assert.Equal(0L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND valid_to IS NOT NULL", tenant.TenantId));
    }

    [Fact]
    public async Task SwitchingToTeaSupersedesPrefersCoffee()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();

        await LearnAsync(tenant, user, "I prefer coffee.");
        var outcome = await LearnAsync(tenant, user, "I switched to tea.");

        Assert.Equal("supersede", Assert.Single(Decisions(outcome)).GetProperty("action").GetString());
        var current = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories"));
        Assert.DoesNotContain(current.GetProperty("items").EnumerateArray(), m => m.GetProperty("content").GetString()!.Contains("coffee"));
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "messages")]
    [InlineData("""{"messages":[{"role":"robot","content":"hi"}]}""", "messages[0].role")]
    [InlineData("""{"messages":[{"role":"user","content":""}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"dry_run":"yes"}""", "dry_run")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"extra":1}""", "extra")]
    public async Task BadInputIsA400NamingTheField(string body, string field)
    {
        using var tenant = await factory.NewTenantAsync();

        var response = await tenant.Http.PostAsync($"/v1/users/{NewUser()}/memories/extract",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TooManyOrTooLongMessagesAreRejected()
    {
        using var tenant = await factory.NewTenantAsync();
        var many = Enumerable.Range(0, 101).Select(_ => new { role = "user", content = "hi" }).ToArray();
        var tooMany = await tenant.Http.PostAsJsonAsync($"/v1/users/{NewUser()}/memories/extract", new { messages = many }, ApiFactory.Json);
        var tooLong = await tenant.Http.PostAsJsonAsync($"/v1/users/{NewUser()}/memories/extract",
            new { messages = new[] { new { role = "user", content = new string('a', 8001) } } }, ApiFactory.Json);

        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("messages[0].content", await tooLong.Content.ReadAsStringAsync());
    }

    internal static string NewUser() => "u-" + Guid.NewGuid().ToString("N")[..10];

    internal static async Task<JsonElement> LearnAsync(TenantClient tenant, string user, string said, bool dryRun = false) =>
        await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.PostAsJsonAsync($"/v1/users/{user}/memories/extract", new
        {
            messages = new[] { new { role = "user", content = said }, new { role = "assistant", content = "Noted!" } },
            dry_run = dryRun,
        }, ApiFactory.Json));

    internal static List<JsonElement> Decisions(JsonElement outcome) => outcome.GetProperty("decisions").EnumerateArray().ToList();

    private Task<long> CountAsync(TenantClient tenant, string user) =>
        factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2", tenant.TenantId, user);
}
