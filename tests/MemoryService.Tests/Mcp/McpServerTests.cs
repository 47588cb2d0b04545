using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace MemoryService.Tests.Mcp;

/// <summary>
/// The MCP server at /mcp through the official C# client (Streamable HTTP against the test server), configured as a
/// user would: the URL, the tenant key as Bearer and the X-User-Id header.
/// </summary>
public sealed class McpServerTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly string[] ToolNames =
        ["remember", "recall", "get_context", "learn", "update_memory", "forget", "list_memories", "search_knowledge"];

    [Fact]
    public async Task ListsTheMemoryToolsWithDescribedSnakeCaseArguments()
    {
        using var t = await api.NewTenantAsync();
        await using var mcp = await ConnectAsync(t, "lister");

        var tools = await mcp.ListToolsAsync();

        Assert.Equal(ToolNames.Order(), tools.Select(x => x.Name).Order());
        Assert.All(tools, tool => Assert.False(string.IsNullOrWhiteSpace(tool.Description), tool.Name));
        var context = tools.Single(x => x.Name == "get_context").JsonSchema.GetProperty("properties");
        Assert.True(context.TryGetProperty("token_budget", out var budget));
        Assert.False(string.IsNullOrWhiteSpace(budget.GetProperty("description").GetString()));
        var remember = tools.Single(x => x.Name == "remember").ProtocolTool;
        Assert.Equal(["content"], remember.InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.True(remember.OutputSchema!.Value.GetProperty("properties").TryGetProperty("id", out _));
    }

    [Fact]
    public async Task EveryToolAnswersWithTextAndStructuredContent()
    {
        using var t = await api.NewTenantAsync();
        await using var mcp = await ConnectAsync(t, "sam");
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Refunds are possible within 30 days of purchase" }));

        var remembered = await CallAsync(mcp, "remember", new { content = "Prefers oolong tea in the morning", kind = "preference", key = "tea", tags = new[] { "drinks" }, importance = 0.8 });
        var id = remembered.GetProperty("id").GetString()!;
        Assert.Equal("preference", remembered.GetProperty("kind").GetString());
        Assert.Equal("sam", remembered.GetProperty("user_id").GetString());

        var recalled = await CallAsync(mcp, "recall", new { query = "what tea does sam like", limit = 5 });
        Assert.Equal(id, recalled.GetProperty("items")[0].GetProperty("memory").GetProperty("id").GetString());
        Assert.True(recalled.GetProperty("items")[0].GetProperty("score").GetDouble() > 0);

        var context = await CallAsync(mcp, "get_context", new { query = "tea", token_budget = 300 });
        Assert.Contains("oolong", context.GetProperty("system_prompt").GetString());
        Assert.Contains(id, context.GetProperty("memories").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        var learned = await CallAsync(mcp, "learn", new { messages = new[] { new { role = "user", content = "I moved to Lisbon last month." } } });
        var decision = learned.GetProperty("decisions")[0];
        Assert.Equal("add", decision.GetProperty("action").GetString());
        Assert.Contains("Lisbon", decision.GetProperty("candidate").GetProperty("content").GetString());

        var listed = await CallAsync(mcp, "list_memories", new { kind = "preference" });
        Assert.Equal([id], listed.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        var updated = await CallAsync(mcp, "update_memory", new { id, content = "Prefers green tea in the morning" });
        Assert.Equal("Prefers green tea in the morning", updated.GetProperty("content").GetString());
        Assert.Equal(2, updated.GetProperty("version").GetInt32());

        var knowledge = await CallAsync(mcp, "search_knowledge", new { query = "refund within days" });
        Assert.Contains("Refunds", knowledge.GetProperty("items")[0].GetProperty("memory").GetProperty("content").GetString());

        var forgotten = await CallAsync(mcp, "forget", new { id });
        Assert.True(forgotten.GetProperty("deleted").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/users/sam/memories/{id}")).StatusCode);
    }

    [Fact]
    public async Task MemoryRememberedOverMcpIsFoundByRestAndTheOtherWayRound()
    {
        using var t = await api.NewTenantAsync();
        await using var mcp = await ConnectAsync(t, "both-ways");

        var overMcp = (await CallAsync(mcp, "remember", new { content = "Keeps bees on the roof of the garage" })).GetProperty("id").GetString();
        var rest = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/both-ways/memories/search", new { query = "bees on the roof" }));
        Assert.Equal(overMcp, rest.GetProperty("items")[0].GetProperty("memory").GetProperty("id").GetString());

        var overRest = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/both-ways/memories",
            new { content = "Plays the cello in an amateur orchestra", kind = "fact" }))).GetProperty("id").GetString();
        var recalled = await CallAsync(mcp, "recall", new { query = "cello orchestra" });
        Assert.Equal(overRest, recalled.GetProperty("items")[0].GetProperty("memory").GetProperty("id").GetString());
    }

    [Fact]
    public async Task AnotherTenantsKeyWithTheSameUserIdSeesNothing()
    {
        using var owner = await api.NewTenantAsync();
        using var intruder = await api.NewTenantAsync();
        await using var ownerMcp = await ConnectAsync(owner, "shared-id");
        var id = (await CallAsync(ownerMcp, "remember", new { content = "Secret hobby is falconry" })).GetProperty("id").GetString()!;
        await ApiFactory.ReadAsync<JsonElement>(await owner.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Internal falconry discount code" }));
        await using var mcp = await ConnectAsync(intruder, "shared-id");

        Assert.Empty((await CallAsync(mcp, "recall", new { query = "falconry hobby" })).GetProperty("items").EnumerateArray());
        Assert.Empty((await CallAsync(mcp, "list_memories", new { })).GetProperty("items").EnumerateArray());
        Assert.Empty((await CallAsync(mcp, "get_context", new { query = "falconry" })).GetProperty("memories").EnumerateArray());
        Assert.Empty((await CallAsync(mcp, "search_knowledge", new { query = "falconry discount" })).GetProperty("items").EnumerateArray());
        Assert.Equal("No such memory.", (await CallErrorAsync(mcp, "update_memory", new { id, content = "hijacked" })).GetProperty("detail").GetString());
        Assert.Equal("No such memory.", (await CallErrorAsync(mcp, "forget", new { id })).GetProperty("detail").GetString());

        var kept = await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync($"/v1/users/shared-id/memories/{id}"));
        Assert.Equal("Secret hobby is falconry", kept.GetProperty("content").GetString());
        Assert.Equal(1, kept.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task MissingKeyIsRefusedAtConnect()
    {
        var refused = await ConnectRefusedAsync(null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused);
    }

    [Fact]
    public async Task RevokedKeyIsRefusedAtConnect()
    {
        using var t = await api.NewTenantAsync();
        var key = t.Http.DefaultRequestHeaders.Authorization!.Parameter!;
        await using (var before = await ConnectAsync(t, "revoked")) Assert.NotEmpty(await before.ListToolsAsync());
        using var admin = api.Admin();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/tenants/{t.TenantId}/keys/{t.KeyId}")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, await ConnectRefusedAsync(key));
    }

    [Fact]
    public async Task ErrorsAreToolErrorsWordedLikeTheRestProblems()
    {
        using var t = await api.NewTenantAsync();
        await using var mcp = await ConnectAsync(t, "errs");

        var blank = await CallErrorAsync(mcp, "remember", new { content = "   " });
        var rest = await ProblemAsync(await t.Http.PostAsJsonAsync("/v1/users/errs/memories", new { content = "   " }));
        Assert.Equal(rest.GetProperty("title").GetString(), blank.GetProperty("title").GetString());
        Assert.Equal(rest.GetProperty("errors").GetRawText(), blank.GetProperty("errors").GetRawText());
        Assert.Equal(400, blank.GetProperty("status").GetInt32());

        var budget = await CallErrorAsync(mcp, "get_context", new { query = "x", token_budget = 0 });
        var restBudget = await ProblemAsync(await t.Http.PostAsJsonAsync("/v1/users/errs/context", new { query = "x", token_budget = 0 }));
        Assert.Equal(restBudget.GetProperty("errors").GetRawText(), budget.GetProperty("errors").GetRawText());

        var kind = await CallErrorAsync(mcp, "list_memories", new { kind = "mood" });
        Assert.Equal("One of preference, fact, event, knowledge.", kind.GetProperty("errors").GetProperty("kind")[0].GetString());

        var unknown = await CallErrorAsync(mcp, "forget", new { id = Guid.NewGuid() });
        var restUnknown = await ProblemAsync(await t.Http.DeleteAsync($"/v1/users/errs/memories/{Guid.NewGuid()}"));
        Assert.Equal(restUnknown.GetProperty("detail").GetString(), unknown.GetProperty("detail").GetString());
        Assert.Equal(404, unknown.GetProperty("status").GetInt32());

        // Text the database cannot store is refused before any handler runs, as the REST edge refuses it.
        var nul = await CallErrorAsync(mcp, "remember", new { content = "tea\u0000time" });
        Assert.Equal("Invalid text in request", nul.GetProperty("title").GetString());
        Assert.True(nul.GetProperty("errors").TryGetProperty("content", out _));
        var messages = await CallErrorAsync(mcp, "learn", new { messages = new[] { new { role = "user", content = "I love\u0000 tea" } } });
        Assert.True(messages.GetProperty("errors").TryGetProperty("messages[0].content", out _), messages.GetRawText());

        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task UserToolsWithoutAUserHeaderSaySo()
    {
        using var t = await api.NewTenantAsync();
        await using var mcp = await ConnectAsync(t, null);

        var error = await CallErrorAsync(mcp, "remember", new { content = "Likes jazz" });

        Assert.Contains("X-User-Id", error.GetProperty("errors").GetProperty("X-User-Id")[0].GetString());
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
        // App knowledge needs no user.
        Assert.Empty((await CallAsync(mcp, "search_knowledge", new { query = "jazz" })).GetProperty("items").EnumerateArray());
    }

    // ---- the client, configured as docs/mcp.md says ----

    private Task<McpClient> ConnectAsync(TenantClient tenant, string? userId) =>
        ConnectAsync(tenant.Http.DefaultRequestHeaders.Authorization!.Parameter, userId);

    private async Task<McpClient> ConnectAsync(string? key, string? userId)
    {
        var headers = new Dictionary<string, string>();
        if (key is not null) headers["Authorization"] = "Bearer " + key;
        if (userId is not null) headers["X-User-Id"] = userId;
        var http = api.CreateClient();
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(http.BaseAddress!, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = headers,
        }, http, ownsHttpClient: true);
        return await McpClient.CreateAsync(transport);
    }

    /// <summary>The HTTP status the client was refused with when connecting.</summary>
    private async Task<HttpStatusCode?> ConnectRefusedAsync(string? key)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () => { await using var _ = await ConnectAsync(key, "someone"); });
        for (Exception? e = ex; e is not null; e = e.InnerException)
            if (e is HttpRequestException { StatusCode: { } status }) return status;
        Assert.Fail($"Not refused by HTTP status: {ex}");
        return null;
    }

    private static async Task<JsonElement> CallAsync(McpClient mcp, string tool, object arguments)
    {
        var result = await mcp.CallToolAsync(tool, Arguments(arguments));
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.True(result.IsError is not true, $"{tool} failed: {text}");
        var structured = Assert.IsType<JsonElement>(result.StructuredContent);
        Assert.Equal(structured.GetRawText(), JsonDocument.Parse(text).RootElement.GetRawText());
        return structured;
    }

    /// <summary>The problem body a failed tool call carries as its text.</summary>
    private static async Task<JsonElement> CallErrorAsync(McpClient mcp, string tool, object arguments)
    {
        var result = await mcp.CallToolAsync(tool, Arguments(arguments));
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.True(result.IsError, $"{tool} should have failed: {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    private static Dictionary<string, object?> Arguments(object arguments) =>
        JsonSerializer.SerializeToElement(arguments).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.False(response.IsSuccessStatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}
