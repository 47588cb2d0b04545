using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MemoryService.Learning;
using MemoryService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MemoryService.Tests.Tenancy;

/// <summary>
/// The service with a model (so chat and the proxy really build context and call it) and the rule-based learner
/// (so extract reconciles against stored memories without depending on model replies).
/// </summary>
public sealed class CrossTenantFactory : FakeOpenAiApiFactory
{
    protected override void UseServer(Uri baseUrl) => UseAsChatModel(baseUrl, "test-model");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton<IMemoryExtractor>(new RuleBasedMemoryExtractor());
            s.AddSingleton<IDecisionAdvisor>(new RulesOnlyAdvisor());
        });
        builder.UseSetting("Webhooks:AllowPrivateNetworks", "true");
    }
}

/// <summary>
/// Tenant B's key against tenant A's data, on every route a tenant key can call (all of /v1 but /v1/admin, exactly
/// what the authentication middleware gives to tenant keys). The route list comes from the app's own endpoints,
/// so a new route without a row in <see cref="Cases"/> fails <see cref="EveryTenantRouteHasACrossTenantCase"/>.
/// </summary>
public sealed class CrossTenantTests(CrossTenantFactory factory) : IClassFixture<CrossTenantFactory>
{
    /// <summary>What tenant A stored: the ids and the unique strings that must never reach tenant B.</summary>
    public sealed record Seed(string User, string MemoryId, string KnowledgeId, IReadOnlyList<string> Secrets, string WebhookId = "",
        string EntityId = "", string KnowledgeEntityId = "");

    /// <summary>
    /// What B gets. NotFound: 404. Empty: 200 with that list property empty. Own: B's own (empty) data with this
    /// status, plus an optional check of the body. Every case also asserts that no secret of A's is in the answer
    /// (body and headers) nor in anything sent to the model.
    /// </summary>
    public sealed record Expect(HttpStatusCode Status, string? EmptyList = null, Action<JsonElement>? Check = null)
    {
        public static readonly Expect NotFound = new(HttpStatusCode.NotFound);
        public static Expect Empty(string list) => new(HttpStatusCode.OK, list);
        public static Expect Own(HttpStatusCode status, Action<JsonElement>? check = null) => new(status, null, check);
    }

    /// <summary>One row per route: "METHOD /route/pattern" as the app maps it, the request tenant B sends, what it must get.</summary>
    public sealed record Case(string Route, Func<Seed, HttpRequestMessage> Request, Expect Expect);

    private static readonly Case[] Cases =
    [
        // a user's memories
        new("POST /v1/users/{user_id}/memories", s => Post($"/v1/users/{s.User}/memories", new { content = "Intruder note" }), Expect.Own(HttpStatusCode.Created)),
        new("POST /v1/users/{user_id}/memories/batch", s => Post($"/v1/users/{s.User}/memories/batch", new { items = new[] { new { content = "Intruder note" } } }),
            Expect.Own(HttpStatusCode.Created)),
        new("GET /v1/users/{user_id}/memories", s => Get($"/v1/users/{s.User}/memories"), Expect.Empty("items")),
        new("GET /v1/users/{user_id}/learning", s => Get($"/v1/users/{s.User}/learning"), Expect.Empty("items")),
        new("GET /v1/users/{user_id}/memories/{id:guid}", s => Get($"/v1/users/{s.User}/memories/{s.MemoryId}"), Expect.NotFound),
        new("PATCH /v1/users/{user_id}/memories/{id:guid}", s => Send(HttpMethod.Patch, $"/v1/users/{s.User}/memories/{s.MemoryId}", new { content = "hijack" }),
            Expect.NotFound),
        new("DELETE /v1/users/{user_id}/memories/{id:guid}", s => Send(HttpMethod.Delete, $"/v1/users/{s.User}/memories/{s.MemoryId}"), Expect.NotFound),
        new("GET /v1/users/{user_id}/memories/{id:guid}/history", s => Get($"/v1/users/{s.User}/memories/{s.MemoryId}/history"), Expect.NotFound),
        new("POST /v1/users/{user_id}/memories/search", s => Post($"/v1/users/{s.User}/memories/search", new { query = "striped tea" }), Expect.Empty("items")),
        new("POST /v1/users/{user_id}/memories/extract", s => Post($"/v1/users/{s.User}/memories/extract",
            new { messages = new[] { new { role = "user", content = "I prefer striped tea." } } }), Expect.Own(HttpStatusCode.OK)),
        // users
        new("GET /v1/users", _ => Get("/v1/users"), Expect.Empty("items")),
        new("DELETE /v1/users/{user_id}/memories", s => Send(HttpMethod.Delete, $"/v1/users/{s.User}/memories"), Expect.NotFound),
        new("DELETE /v1/users/{user_id}", s => Send(HttpMethod.Delete, $"/v1/users/{s.User}"), Expect.NotFound),
        new("GET /v1/users/{user_id}/export", s => Get($"/v1/users/{s.User}/export"), Expect.NotFound),
        // app knowledge
        new("POST /v1/knowledge", _ => Post("/v1/knowledge", new { content = "Intruder policy" }), Expect.Own(HttpStatusCode.Created)),
        new("POST /v1/knowledge/batch", _ => Post("/v1/knowledge/batch", new { items = new[] { new { content = "Intruder policy" } } }), Expect.Own(HttpStatusCode.Created)),
        new("GET /v1/knowledge", _ => Get("/v1/knowledge"), Expect.Empty("items")),
        new("GET /v1/knowledge/{id:guid}", s => Get($"/v1/knowledge/{s.KnowledgeId}"), Expect.NotFound),
        new("PATCH /v1/knowledge/{id:guid}", s => Send(HttpMethod.Patch, $"/v1/knowledge/{s.KnowledgeId}", new { content = "hijack" }), Expect.NotFound),
        new("DELETE /v1/knowledge/{id:guid}", s => Send(HttpMethod.Delete, $"/v1/knowledge/{s.KnowledgeId}"), Expect.NotFound),
        new("GET /v1/knowledge/{id:guid}/history", s => Get($"/v1/knowledge/{s.KnowledgeId}/history"), Expect.NotFound),
        new("POST /v1/knowledge/search", _ => Post("/v1/knowledge/search", new { query = "refund policy" }), Expect.Empty("items")),
        new("GET /v1/embeddings/status", _ => Get("/v1/embeddings/status"),
            Expect.Own(HttpStatusCode.OK, b => Assert.Equal(0, b.GetProperty("total").GetInt64()))),
        // context and chat
        new("POST /v1/users/{user_id}/context", s => Post($"/v1/users/{s.User}/context", new { query = "striped tea refund policy" }), Expect.Empty("memories")),
        new("GET /v1/context/template", _ => Get("/v1/context/template"), Expect.Own(HttpStatusCode.OK, b => Assert.True(b.GetProperty("is_default").GetBoolean()))),
        new("PUT /v1/context/template", _ => Send(HttpMethod.Put, "/v1/context/template", new { template = "Intruder rules.\n{{memories}}" }), Expect.Own(HttpStatusCode.OK)),
        new("DELETE /v1/context/template", _ => Send(HttpMethod.Delete, "/v1/context/template"), Expect.Own(HttpStatusCode.NoContent)),
        new("POST /v1/users/{user_id}/chat", s => Post($"/v1/users/{s.User}/chat",
            new { messages = new[] { new { role = "user", content = "Which striped tea, and what is the refund policy?" } } }), Expect.Empty("memory_ids")),
        new("POST /v1/openai/chat/completions", s => Post("/v1/openai/chat/completions",
            new { user = s.User, messages = new[] { new { role = "user", content = "Which striped tea, and what is the refund policy?" } } }),
            Expect.Own(HttpStatusCode.OK)),
        // tenant settings (the owner turned proxy_learning on)
        new("GET /v1/settings", _ => Get("/v1/settings"), Expect.Own(HttpStatusCode.OK, b => Assert.False(b.GetProperty("proxy_learning").GetBoolean()))),
        new("PATCH /v1/settings", _ => Send(HttpMethod.Patch, "/v1/settings", new { proxy_learning = false }),
            Expect.Own(HttpStatusCode.OK, b => Assert.False(b.GetProperty("proxy_learning").GetBoolean()))),
        // webhooks
        new("POST /v1/webhooks", _ => Post("/v1/webhooks", new { url = "http://127.0.0.1:9/intruder", events = new[] { "memory.created" } }),
            Expect.Own(HttpStatusCode.Created)),
        new("GET /v1/webhooks", _ => Get("/v1/webhooks"), Expect.Empty("items")),
        new("GET /v1/webhooks/{id:guid}", s => Get($"/v1/webhooks/{s.WebhookId}"), Expect.NotFound),
        new("DELETE /v1/webhooks/{id:guid}", s => Send(HttpMethod.Delete, $"/v1/webhooks/{s.WebhookId}"), Expect.NotFound),
        new("GET /v1/webhooks/{id:guid}/deliveries", s => Get($"/v1/webhooks/{s.WebhookId}/deliveries"), Expect.NotFound),
        // lifecycle
        new("POST /v1/users/{user_id}/memories/{id:guid}/restore", s => Send(HttpMethod.Post, $"/v1/users/{s.User}/memories/{s.MemoryId}/restore"), Expect.NotFound),
        new("POST /v1/users/{user_id}/memories/{id:guid}/feedback", s => Post($"/v1/users/{s.User}/memories/{s.MemoryId}/feedback", new { signal = "wrong" }),
            Expect.NotFound),
        new("POST /v1/users/{user_id}/lifecycle/run", s => Post($"/v1/users/{s.User}/lifecycle/run", new { dry_run = false }), Expect.NotFound),
        new("POST /v1/knowledge/{id:guid}/restore", s => Send(HttpMethod.Post, $"/v1/knowledge/{s.KnowledgeId}/restore"), Expect.NotFound),
        new("POST /v1/knowledge/lifecycle/run", _ => Post("/v1/knowledge/lifecycle/run", new { dry_run = false }), Expect.Empty("merged")),
        new("GET /v1/settings/lifecycle", _ => Get("/v1/settings/lifecycle"), Expect.Own(HttpStatusCode.OK, b => Assert.True(b.GetProperty("is_default").GetBoolean()))),
        new("PUT /v1/settings/lifecycle", _ => Send(HttpMethod.Put, "/v1/settings/lifecycle", new { promote_min_days = 5 }),
            Expect.Own(HttpStatusCode.OK, b => Assert.Equal(5, b.GetProperty("settings").GetProperty("promote_min_days").GetInt32()))),
        // the entity graph
        new("GET /v1/users/{user_id}/entities", s => Get($"/v1/users/{s.User}/entities"), Expect.Empty("items")),
        new("GET /v1/users/{user_id}/entities/{entity_id:guid}", s => Get($"/v1/users/{s.User}/entities/{s.EntityId}"), Expect.NotFound),
        new("POST /v1/users/{user_id}/entities/{entity_id:guid}/merge", s => Post($"/v1/users/{s.User}/entities/{s.EntityId}/merge",
            new { into = s.KnowledgeEntityId }), Expect.NotFound),
        new("GET /v1/knowledge/entities", _ => Get("/v1/knowledge/entities"), Expect.Empty("items")),
        new("GET /v1/knowledge/entities/{entity_id:guid}", s => Get($"/v1/knowledge/entities/{s.KnowledgeEntityId}"), Expect.NotFound),
        new("POST /v1/knowledge/entities/{entity_id:guid}/merge", s => Post($"/v1/knowledge/entities/{s.KnowledgeEntityId}/merge",
            new { into = s.EntityId }), Expect.NotFound),
    ];

    [Fact]
    public void EveryTenantRouteHasACrossTenantCase()
    {
        var mapped = TenantRoutes().ToHashSet();
        var covered = Cases.Select(c => c.Route).ToHashSet();

        var missing = mapped.Except(covered).Order(StringComparer.Ordinal).ToList();
        var stale = covered.Except(mapped).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0 && stale.Count == 0,
            $"Routes without a cross-tenant case (add a row to CrossTenantTests.Cases): {string.Join("; ", missing)}. " +
            $"Cases for routes that no longer exist: {string.Join("; ", stale)}.");
    }

    [Fact]
    public async Task AnotherTenantsKeyNeverReachesTheOwnersData()
    {
        var seed = await SeedOwnerAsync();

        var failures = new List<string>();
        foreach (var c in Cases)
        {
            try
            {
                await RunAsync(c, seed);
            }
            catch (Exception ex) when (ex is Xunit.Sdk.XunitException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                failures.Add($"{c.Route}: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        await AssertOwnerUntouchedAsync(seed);
    }

    // ---- the cases' machinery ----

    private TenantClient? _owner;

    private async Task<Seed> SeedOwnerAsync()
    {
        _owner = await factory.NewTenantAsync();
        var token = Guid.NewGuid().ToString("N")[..10];
        var user = "owner-" + token;
        var memory = $"Prefers striped tea zebra{token} from Ceylon";
        var knowledge = $"Refund policy ocelot{token} set by Acme Corp";
        var template = $"House rules heron{token}.\n{{{{preferences}}}}\n{{{{memories}}}}\n{{{{knowledge}}}}\n{{{{events}}}}";
        var memoryId = (await ApiFactory.ReadAsync<JsonElement>(await _owner.Http.SendAsync(Post($"/v1/users/{user}/memories",
            new { content = memory, kind = "preference" })))).GetProperty("id").GetString()!;
        var knowledgeId = (await ApiFactory.ReadAsync<JsonElement>(await _owner.Http.SendAsync(Post("/v1/knowledge",
            new { content = knowledge })))).GetProperty("id").GetString()!;
        await ApiFactory.ReadAsync<JsonElement>(await _owner.Http.SendAsync(Send(HttpMethod.Put, "/v1/context/template", new { template })));
        await ApiFactory.ReadAsync<JsonElement>(await _owner.Http.SendAsync(Send(HttpMethod.Patch, "/v1/settings", new { proxy_learning = true })));
        var webhook = await ApiFactory.ReadAsync<JsonElement>(await _owner.Http.SendAsync(Post("/v1/webhooks",
            new { url = $"http://127.0.0.1:9/lynx{token}", events = new[] { "user.erased" } })));
        var webhookId = webhook.GetProperty("id").GetString()!;
        var entityId = (await factory.QueryScalarAsync<Guid>("SELECT id FROM entities WHERE tenant_id = $1 AND user_id = $2", _owner.TenantId, user)).ToString();
        var knowledgeEntityId = (await factory.QueryScalarAsync<Guid>("SELECT id FROM entities WHERE tenant_id = $1 AND user_id IS NULL", _owner.TenantId)).ToString();
        return new Seed(user, memoryId, knowledgeId, [$"zebra{token}", $"ocelot{token}", $"heron{token}", memoryId, knowledgeId, user,
            $"lynx{token}", webhookId, webhook.GetProperty("secret").GetString()!, entityId, knowledgeEntityId], webhookId, entityId, knowledgeEntityId);
    }

    private async Task RunAsync(Case c, Seed seed)
    {
        // A fresh intruder per case, so what one case writes in B's own space cannot mask another's result.
        using var intruder = await factory.NewTenantAsync();
        var modelCallsBefore = factory.Fake.Requests.Count;
        using var request = c.Request(seed);
        Assert.True(c.Route.StartsWith(request.Method.Method + " ", StringComparison.Ordinal), $"the request is a {request.Method}");
        var route = c.Route[(request.Method.Method.Length + 1)..];
        Assert.True(new TemplateMatcher(TemplateParser.Parse(route), new RouteValueDictionary()).TryMatch(request.RequestUri!.OriginalString.Split('?')[0], new RouteValueDictionary()),
            $"the request goes to {request.RequestUri}, not to the route");
        var sent = request.RequestUri + (request.Content is null ? "" : await request.Content.ReadAsStringAsync());

        using var response = await intruder.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == c.Expect.Status, $"expected {(int)c.Expect.Status}, got {(int)response.StatusCode}: {body}");
        var answered = body + "\n" + string.Join("\n", response.Headers.Concat(response.Content.Headers).Select(h => $"{h.Key}: {string.Join(",", h.Value)}"));
        var toModel = string.Join("\n", factory.Fake.Requests.Skip(modelCallsBefore).Select(r => r.Body));
        // A secret the request itself carried (A's id or user id in B's path) may be echoed, e.g. in a problem's "instance".
        foreach (var secret in seed.Secrets.Where(s => !sent.Contains(s, StringComparison.Ordinal)))
        {
            Assert.False(answered.Contains(secret, StringComparison.Ordinal), $"the answer leaks '{secret}': {body}");
            Assert.False(toModel.Contains(secret, StringComparison.Ordinal), $"the model was sent '{secret}'");
        }
        if (c.Expect.EmptyList is { } list) Assert.Equal(0, JsonDocument.Parse(body).RootElement.GetProperty(list).GetArrayLength());
        c.Expect.Check?.Invoke(JsonDocument.Parse(body).RootElement);
    }

    private async Task AssertOwnerUntouchedAsync(Seed seed)
    {
        var owner = _owner!;
        var memory = await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync($"/v1/users/{seed.User}/memories/{seed.MemoryId}"));
        Assert.Contains(seed.Secrets[0], memory.GetProperty("content").GetString());
        Assert.Equal(1, memory.GetProperty("version").GetInt32());
        var knowledge = await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync($"/v1/knowledge/{seed.KnowledgeId}"));
        Assert.Contains(seed.Secrets[1], knowledge.GetProperty("content").GetString());
        var template = await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync("/v1/context/template"));
        Assert.Contains(seed.Secrets[2], template.GetProperty("template").GetString());
        Assert.Equal(HttpStatusCode.OK, (await owner.Http.GetAsync($"/v1/webhooks/{seed.WebhookId}")).StatusCode);
        Assert.Equal(1L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id IS NOT NULL", owner.TenantId));
        Assert.True((await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync("/v1/settings"))).GetProperty("proxy_learning").GetBoolean());
        var lifecycle = await ApiFactory.ReadAsync<JsonElement>(await owner.Http.GetAsync("/v1/settings/lifecycle"));
        Assert.True(lifecycle.GetProperty("is_default").GetBoolean());
        owner.Dispose();
    }

    /// <summary>"METHOD /pattern" for every endpoint a tenant key can call.</summary>
    private IEnumerable<string> TenantRoutes()
    {
        _ = factory.Server; // start the host
        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        foreach (var endpoint in endpoints)
        {
            var pattern = "/" + (endpoint.RoutePattern.RawText ?? "").Trim('/');
            var path = new PathString(pattern);
            if (!path.StartsWithSegments("/v1") || path.StartsWithSegments("/v1/admin")) continue;
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["ANY"])
                yield return $"{method} {pattern}";
        }
    }

    private static HttpRequestMessage Get(string url) => new(HttpMethod.Get, url);

    private static HttpRequestMessage Post(string url, object body) => Send(HttpMethod.Post, url, body);

    private static HttpRequestMessage Send(HttpMethod method, string url, object? body = null) => new(method, url)
    {
        Content = body is null ? null : new StringContent(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json"),
    };
}
