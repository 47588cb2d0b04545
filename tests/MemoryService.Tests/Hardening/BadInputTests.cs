using System.Net;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Hardening;

/// <summary>Text PostgreSQL cannot store and ambiguous JSON are a 400 naming the field, never a 503 or a 500.</summary>
public sealed class BadInputTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static StringContent Json(string raw) => new(raw, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> AssertBadRequestAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}': {body}");
        return problem;
    }

    [Fact]
    public async Task NulInSearchContextAndQueryParametersIsA400NamingTheField()
    {
        using var t = await factory.NewTenantAsync();
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/users/u/memories/search", Json("""{"query": "\u0000"}""")), "query");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/users/u/context", Json("""{"query": "tea\u0000"}""")), "query");
        await AssertBadRequestAsync(await t.Http.GetAsync("/v1/users/u/memories?key=%00"), "key");
        await AssertBadRequestAsync(await t.Http.GetAsync("/v1/users/u/memories?tag=a%00"), "tag");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/users/u/memories", Json("""{"content": "x", "metadata": {"note": "\u0000"}}""")), "metadata.note");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/users/u/memories/batch", Json("""{"items": [{"content": "ok"}, {"content": "a\u0000"}]}""")), "items[1].content");
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task LoneSurrogateIsA400NamingTheField()
    {
        using var t = await factory.NewTenantAsync();
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/users/u/memories", Json("""{"content": "\ud800 tea"}""")), "content");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/openai/chat/completions",
            Json("""{"model": "m", "user": "\ud800", "messages": [{"role": "user", "content": "hi"}]}""")), "user");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/knowledge", Json("""{"content": "ok", "key": "\udc00x"}""")), "key");
    }

    [Fact]
    public async Task DuplicateJsonMembersAreA400()
    {
        using var t = await factory.NewTenantAsync();
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/u/memories", Json("""{"content": "Likes tea"}""")));
        var id = created.GetProperty("id").GetString();
        await AssertBadRequestAsync(await t.Http.PatchAsync($"/v1/users/u/memories/{id}",
            new StringContent("""{"content": "x", "content": "y"}""", Encoding.UTF8, "application/merge-patch+json")), "content");
        var knowledge = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/knowledge", Json("""{"content": "Opening hours 9-5"}""")));
        await AssertBadRequestAsync(await t.Http.PatchAsync($"/v1/knowledge/{knowledge.GetProperty("id").GetString()}",
            new StringContent("""{"content": "x", "content": "y"}""", Encoding.UTF8, "application/merge-patch+json")), "content");
        await AssertBadRequestAsync(await t.Http.PostAsync("/v1/openai/chat/completions",
            Json("""{"model": "m", "model": "n", "messages": []}""")), "model");
        var unchanged = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/u/memories/{id}"));
        Assert.Equal("Likes tea", unchanged.GetProperty("content").GetString());
    }

    /// <summary>
    /// Hostile bodies against every endpoint that takes one: the answer is never a 500, and every error is problem+json.
    /// </summary>
    [Fact]
    public async Task HostileBodiesNeverGiveA500()
    {
        using var t = await factory.NewTenantAsync();
        using var admin = factory.Admin();
        var memory = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/u/memories", Json("""{"content": "Likes tea"}""")))).GetProperty("id").GetString();
        var knowledge = (await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/knowledge", Json("""{"content": "Open 9-5"}""")))).GetProperty("id").GetString();
        var routes = new (HttpMethod Method, string Path, bool Admin)[]
        {
            (HttpMethod.Post, "/v1/users/u/memories", false),
            (HttpMethod.Post, "/v1/users/u/memories/batch", false),
            (HttpMethod.Patch, $"/v1/users/u/memories/{memory}", false),
            (HttpMethod.Post, "/v1/knowledge", false),
            (HttpMethod.Post, "/v1/knowledge/batch", false),
            (HttpMethod.Patch, $"/v1/knowledge/{knowledge}", false),
            (HttpMethod.Post, "/v1/users/u/memories/search", false),
            (HttpMethod.Post, "/v1/knowledge/search", false),
            (HttpMethod.Post, "/v1/users/u/memories/extract", false),
            (HttpMethod.Post, "/v1/users/u/context", false),
            (HttpMethod.Put, "/v1/context/template", false),
            (HttpMethod.Post, "/v1/users/u/chat", false),
            (HttpMethod.Post, "/v1/openai/chat/completions", false),
            (HttpMethod.Post, "/v1/admin/tenants", true),
            (HttpMethod.Post, $"/v1/admin/tenants/{t.TenantId}/keys", true),
            (HttpMethod.Patch, "/v1/settings", false),
            (HttpMethod.Post, "/v1/webhooks", false),
            (HttpMethod.Post, $"/v1/users/u/memories/{memory}/feedback", false),
            (HttpMethod.Post, "/v1/users/u/lifecycle/run", false),
            (HttpMethod.Post, "/v1/knowledge/lifecycle/run", false),
            (HttpMethod.Put, "/v1/settings/lifecycle", false),
            (HttpMethod.Post, $"/v1/users/u/entities/{Guid.NewGuid()}/merge", false),
            (HttpMethod.Post, $"/v1/knowledge/entities/{Guid.NewGuid()}/merge", false),
        };
        var deep = new string('[', 5000) + new string(']', 5000);
        var bodies = new[]
        {
            "", "null", "[]", "42", "\"text\"", "{}", "{", "{\"content\": null}", "{\"content\": 12}", "{\"content\": []}",
            "{\"content\": {\"a\": 1}}", "{\"content\": \"x\", \"content\": \"y\"}", "{\"content\": \"\\u0000\"}", "{\"content\": \"\\ud800\"}",
            "{\"content\": \"x\", \"limit\": 1e999}", "{\"content\": \"x\", \"limit\": 99999999999999999999999}", "{\"query\": \"x\", \"limit\": -1}",
            "{\"messages\": null}", "{\"messages\": [null]}", "{\"messages\": [{\"role\": 1}]}", "{\"messages\": [{\"role\": \"user\", \"content\": \"\\udfff\"}]}",
            "{\"items\": null}", "{\"items\": [null]}", "{\"items\": [{\"content\": \"\\u0000\"}]}", "{\"template\": null}", "{\"name\": \"\\u0000\"}",
            "{\"model\": [], \"messages\": []}", "{\"user\": \"\\ud800\", \"messages\": []}", "{\"metadata\": " + deep + "}", deep,
            "{\"content\": \"x\", \"metadata\": {\"k\": \"\\u0000\", \"k\": 1}}", "{\"observed_at\": \"not a date\", \"messages\": []}",
            "{\"url\": \"\\u0000\", \"events\": [null]}", "{\"url\": \"http://[::1\", \"events\": [\"memory.created\"]}", "{\"signal\": null}",
            "{\"signal\": \"wrong\", \"comment\": \"\\ud800\"}", "{\"into\": \"not-a-guid\"}", "{\"steps\": [null], \"dry_run\": \"yes\"}",
            "{\"proxy_learning\": \"yes\"}", "{\"promote_min_days\": 1e999}", "{\"conversation_id\": \"\\u0000\", \"messages\": []}",
        };
        var failures = new List<string>();
        foreach (var (method, path, isAdmin) in routes)
            foreach (var body in bodies)
            {
                using var request = new HttpRequestMessage(method, path)
                {
                    Content = new StringContent(body, Encoding.UTF8, method == HttpMethod.Patch ? "application/merge-patch+json" : "application/json"),
                };
                var response = await (isAdmin ? admin : t.Http).SendAsync(request);
                var media = response.Content.Headers.ContentType?.MediaType;
                if ((int)response.StatusCode >= 500 || !response.IsSuccessStatusCode && media != "application/problem+json")
                    failures.Add($"{method} {path} {body[..Math.Min(60, body.Length)]} -> {(int)response.StatusCode} {media}");
            }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
