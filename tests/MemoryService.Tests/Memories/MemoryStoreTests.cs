using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Foundation;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Memories;

public sealed class MemoryStoreTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static StringContent JsonBody(object body) =>
        new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    private static Task<JsonElement> Read(HttpResponseMessage r) => ApiFactory.ReadAsync<JsonElement>(r);

    private static async Task<JsonElement> Create(TenantClient t, string user, object body) =>
        await Read(await t.Http.PostAsync($"/v1/users/{user}/memories", JsonBody(body)));

    [Fact]
    public async Task MemoryCrudRoundTrip()
    {
        using var t = await api.NewTenantAsync();
        var created = await t.Http.PostAsync("/v1/users/alice/memories", JsonBody(new
        {
            content = "Prefers tea over coffee", kind = "preference", key = "drink_preference",
            tags = new[] { "diet" }, metadata = new { origin = "chat" }, importance = 0.8,
        }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("\"1\"", created.Headers.ETag?.Tag);
        var memory = await Read(created);
        var id = memory.GetProperty("id").GetString();
        Assert.Equal($"/v1/users/alice/memories/{id}", created.Headers.Location?.OriginalString);

        var fetched = await Read(await t.Http.GetAsync($"/v1/users/alice/memories/{id}"));
        Assert.Equal("Prefers tea over coffee", fetched.GetProperty("content").GetString());
        Assert.Equal("preference", fetched.GetProperty("kind").GetString());
        Assert.Equal("chat", fetched.GetProperty("metadata").GetProperty("origin").GetString());
        Assert.Equal(0.8, fetched.GetProperty("importance").GetDouble(), 3);
        Assert.Equal(memory.GetProperty("created_at").GetString(), fetched.GetProperty("created_at").GetString());

        var patched = await t.Http.PatchAsync($"/v1/users/alice/memories/{id}", JsonBody(new { content = "Prefers green tea", importance = 0.9 }));
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("\"2\"", patched.Headers.ETag?.Tag);
        Assert.Equal("Prefers green tea", (await Read(patched)).GetProperty("content").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/users/alice/memories/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/users/alice/memories/{id}")).StatusCode);

        var history = await Read(await t.Http.GetAsync($"/v1/users/alice/memories/{id}/history"));
        var events = history.GetProperty("items").EnumerateArray().Select(h => h.GetProperty("event").GetString()!).ToArray();
        Assert.Equal(["created", "updated", "deleted"], events);
        var update = history.GetProperty("items")[1];
        Assert.Equal("Prefers tea over coffee", update.GetProperty("old_content").GetString());
        Assert.Equal("Prefers green tea", update.GetProperty("new_content").GetString());
        Assert.Equal(t.KeyId.ToString(), update.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task KnowledgeCrudRoundTrip()
    {
        using var t = await api.NewTenantAsync();
        var created = await Read(await t.Http.PostAsync("/v1/knowledge", JsonBody(new { content = "Refunds are processed within 5 business days." })));
        var id = created.GetProperty("id").GetString();
        Assert.Equal("knowledge", created.GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("user_id").ValueKind);

        var list = await Read(await t.Http.GetAsync("/v1/knowledge"));
        Assert.Single(list.GetProperty("items").EnumerateArray());
        var patched = await Read(await t.Http.PatchAsync($"/v1/knowledge/{id}", JsonBody(new { content = "Refunds take up to 7 business days." })));
        Assert.Equal(2, patched.GetProperty("version").GetInt32());
        Assert.Equal(2, (await Read(await t.Http.GetAsync($"/v1/knowledge/{id}/history"))).GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync($"/v1/knowledge/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync($"/v1/knowledge/{id}")).StatusCode);
        // knowledge is not a user's memory
        var wrongKind = await t.Http.PostAsync("/v1/users/bob/memories", JsonBody(new { content = "x", kind = "knowledge" }));
        Assert.Equal(HttpStatusCode.BadRequest, wrongKind.StatusCode);
    }

    [Fact]
    public async Task StaleETagGives412AndChangesNothing()
    {
        using var t = await api.NewTenantAsync();
        var id = (await Create(t, "carol", new { content = "Lives in Berlin" })).GetProperty("id").GetString();
        await t.Http.PatchAsync($"/v1/users/carol/memories/{id}", JsonBody(new { content = "Lives in Munich" }));

        var stale = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/carol/memories/{id}") { Content = JsonBody(new { content = "Lives in Hamburg" }) };
        stale.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
        await FoundationTests.AssertProblem(await t.Http.SendAsync(stale), HttpStatusCode.PreconditionFailed);

        var staleDelete = new HttpRequestMessage(HttpMethod.Delete, $"/v1/users/carol/memories/{id}");
        staleDelete.Headers.IfMatch.Add(new EntityTagHeaderValue("\"1\""));
        await FoundationTests.AssertProblem(await t.Http.SendAsync(staleDelete), HttpStatusCode.PreconditionFailed);

        var current = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/carol/memories/{id}") { Content = JsonBody(new { importance = 1.0 }) };
        current.Headers.IfMatch.Add(new EntityTagHeaderValue("\"2\""));
        Assert.Equal(HttpStatusCode.OK, (await t.Http.SendAsync(current)).StatusCode);
        Assert.Equal("Lives in Munich", (await Read(await t.Http.GetAsync($"/v1/users/carol/memories/{id}"))).GetProperty("content").GetString());
    }

    [Fact]
    public async Task RetriedPostWithSameIdempotencyKeyCreatesOneMemory()
    {
        using var t = await api.NewTenantAsync();
        async Task<HttpResponseMessage> Post(string content)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/users/dave/memories") { Content = JsonBody(new { content }) };
            request.Headers.Add("Idempotency-Key", "retry-123");
            return await t.Http.SendAsync(request);
        }
        var first = await Post("Has a dog named Rex");
        var retries = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Post("Has a dog named Rex")));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var firstBody = await first.Content.ReadAsStringAsync();
        foreach (var retry in retries)
        {
            Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
            Assert.Equal(firstBody, await retry.Content.ReadAsStringAsync());
        }
        Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));

        var reused = await Post("Has a cat named Tom");
        await FoundationTests.AssertProblem(reused, HttpStatusCode.UnprocessableEntity);
        Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task BatchOfThousandWithOneInvalidItemWritesNothingAndNamesIt()
    {
        using var t = await api.NewTenantAsync();
        var items = Enumerable.Range(0, 1000).Select(i => (object)new { content = $"Fact number {i}", kind = "fact" }).ToList();
        items[637] = new { content = "Bad importance", importance = 1.5 };
        var response = await t.Http.PostAsync("/v1/users/erin/memories/batch", JsonBody(new { items }));
        var problem = await FoundationTests.AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("items[637].importance", out _), problem.ToString());
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM users WHERE tenant_id = $1", t.TenantId));

        items[637] = new { content = "Now valid", importance = 0.5 };
        var ok = await t.Http.PostAsync("/v1/users/erin/memories/batch", JsonBody(new { items }));
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        Assert.Equal(1000, (await Read(ok)).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        Assert.Equal(1000L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding IS NOT NULL", t.TenantId));
        Assert.Equal(1000L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1 AND event = 'created'", t.TenantId));

        var tooMany = Enumerable.Range(0, 1001).Select(i => new { content = $"x{i}" }).ToList();
        await FoundationTests.AssertProblem(await t.Http.PostAsync("/v1/users/erin/memories/batch", JsonBody(new { items = tooMany })), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ListFiltersAndPaginatesWithCursor()
    {
        using var t = await api.NewTenantAsync();
        for (var i = 0; i < 7; i++)
            await Create(t, "fay", new { content = $"Event {i}", kind = i % 2 == 0 ? "event" : "fact", tags = i < 3 ? new[] { "early" } : [] });
        await Create(t, "fay", new { content = "Expired thing", expires_at = DateTimeOffset.UtcNow.AddMinutes(-1) });

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Read(await t.Http.GetAsync($"/v1/users/fay/memories?limit=3{(cursor is null ? "" : "&cursor=" + cursor)}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("content").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        } while (cursor is not null);
        Assert.Equal(Enumerable.Range(0, 7).Reverse().Select(i => $"Event {i}"), seen);

        var events = await Read(await t.Http.GetAsync("/v1/users/fay/memories?kind=event"));
        Assert.Equal(4, events.GetProperty("items").GetArrayLength());
        var early = await Read(await t.Http.GetAsync("/v1/users/fay/memories?tag=early"));
        Assert.Equal(3, early.GetProperty("items").GetArrayLength());
        var withExpired = await Read(await t.Http.GetAsync("/v1/users/fay/memories?include_expired=true&limit=100"));
        Assert.Equal(8, withExpired.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task ResetRemovesEveryMemoryButKeepsTheUser()
    {
        using var t = await api.NewTenantAsync();
        await Create(t, "gus", new { content = "Likes jazz" });
        await Create(t, "gus", new { content = "Works as a nurse" });
        var reset = await Read(await t.Http.DeleteAsync("/v1/users/gus/memories"));
        Assert.Equal(2, reset.GetProperty("deleted").GetInt32());
        Assert.Equal(0, (await Read(await t.Http.GetAsync("/v1/users/gus/memories"))).GetProperty("items").GetArrayLength());
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
        var users = await Read(await t.Http.GetAsync("/v1/users"));
        Assert.Equal("gus", users.GetProperty("items")[0].GetProperty("user_id").GetString());
    }

    [Fact]
    public async Task EraseLeavesNothingBehindInAnyTable()
    {
        using var t = await api.NewTenantAsync();
        var id = (await Create(t, "hal", new { content = "Is allergic to peanuts" })).GetProperty("id").GetString();
        await t.Http.PatchAsync($"/v1/users/hal/memories/{id}", JsonBody(new { content = "Is allergic to peanuts and shellfish" }));
        var keyed = new HttpRequestMessage(HttpMethod.Post, "/v1/users/hal/memories") { Content = JsonBody(new { content = "Has two kids" }) };
        keyed.Headers.Add("Idempotency-Key", "hal-1");
        await t.Http.SendAsync(keyed);
        await Create(t, "other", new { content = "Someone else" });

        Assert.Equal(HttpStatusCode.NoContent, (await t.Http.DeleteAsync("/v1/users/hal")).StatusCode);

        foreach (var table in new[] { "memories", "memory_history", "idempotency_records", "users" })
        {
            var column = table == "users" ? "id" : "user_id";
            Assert.Equal(0L, await api.QueryScalarAsync<long>($"SELECT count(*) FROM {table} WHERE tenant_id = $1 AND {column} = 'hal'", t.TenantId));
        }
        Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.DeleteAsync("/v1/users/hal")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.GetAsync("/v1/users/hal/export")).StatusCode);
    }

    [Fact]
    public async Task ExportContainsEveryMemoryAndHistoryRow()
    {
        using var t = await api.NewTenantAsync();
        var a = (await Create(t, "ivy", new { content = "Prefers window seats" })).GetProperty("id").GetString();
        await Create(t, "ivy", new { content = "Old plan", expires_at = DateTimeOffset.UtcNow.AddSeconds(-5) });
        await t.Http.PatchAsync($"/v1/users/ivy/memories/{a}", JsonBody(new { content = "Prefers aisle seats" }));
        var deleted = (await Create(t, "ivy", new { content = "Temporary" })).GetProperty("id").GetString();
        await t.Http.DeleteAsync($"/v1/users/ivy/memories/{deleted}");

        var export = await Read(await t.Http.GetAsync("/v1/users/ivy/export"));
        Assert.Equal("ivy", export.GetProperty("user_id").GetString());
        var contents = export.GetProperty("memories").EnumerateArray().Select(m => m.GetProperty("content").GetString()!).ToList();
        Assert.Equal(["Prefers aisle seats", "Old plan"], contents);
        var dbHistory = await api.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1 AND user_id = 'ivy'", t.TenantId);
        Assert.Equal(dbHistory, export.GetProperty("history").GetArrayLength());
        Assert.Equal(5, dbHistory); // 3 created, 1 updated, 1 deleted
    }

    [Fact]
    public async Task MissingUnknownAndRevokedKeysGet401()
    {
        using var anonymous = api.CreateClient();
        await FoundationTests.AssertProblem(await anonymous.GetAsync("/v1/users"), HttpStatusCode.Unauthorized);
        anonymous.DefaultRequestHeaders.Add("X-API-Key", "msk_not_a_real_key");
        await FoundationTests.AssertProblem(await anonymous.GetAsync("/v1/users"), HttpStatusCode.Unauthorized);

        using var t = await api.NewTenantAsync();
        Assert.Equal(HttpStatusCode.OK, (await t.Http.GetAsync("/v1/users")).StatusCode);
        using var admin = api.Admin();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/tenants/{t.TenantId}/keys/{t.KeyId}")).StatusCode);
        await FoundationTests.AssertProblem(await t.Http.GetAsync("/v1/users"), HttpStatusCode.Unauthorized);
        // a tenant key is not an admin key
        using var t2 = await api.NewTenantAsync();
        await FoundationTests.AssertProblem(await t2.Http.GetAsync("/v1/admin/tenants"), HttpStatusCode.Unauthorized);
    }

    public static TheoryData<string, string, string> BadInputs => new()
    {
        { "/v1/users/kim/memories", """{"content":"x","kind":"opinion"}""", "kind" },
        { "/v1/users/kim/memories", """{"content":"x","importance":1.5}""", "importance" },
        { "/v1/users/kim/memories", """{"content":"x","confidence":-0.1}""", "confidence" },
        { "/v1/users/kim/memories", """{"content":"x","importance":"high"}""", "importance" },
        { "/v1/users/kim/memories", """{"content":42}""", "content" },
        { "/v1/users/kim/memories", """{"content":"  "}""", "content" },
        { "/v1/users/kim/memories", """{"content":"x","tags":"not-a-list"}""", "tags" },
        { "/v1/users/kim/memories", """{"content":"x","metadata":[1,2]}""", "metadata" },
        { "/v1/users/kim/memories", """{"content":"x","importnace":0.5}""", "importnace" },
        { "/v1/users/kim/memories", """{"content":"x",""", "body" },
        { "/v1/users/kim/memories", $$"""{"content":"{{new string('a', 4097)}}"}""", "content" },
        { $"/v1/users/{new string('u', 129)}/memories", """{"content":"x"}""", "user_id" },
        { "/v1/users/kim/memories/batch", """{"items":[]}""", "items" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task BadInputGets400NamingTheFieldAndWritesNothing(string path, string body, string field)
    {
        using var t = await api.NewTenantAsync();
        var response = await t.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await FoundationTests.AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task UnknownCursorAndBadFiltersGet400()
    {
        using var t = await api.NewTenantAsync();
        await FoundationTests.AssertProblem(await t.Http.GetAsync("/v1/users/kim/memories?cursor=bm90LWEtY3Vyc29y"), HttpStatusCode.BadRequest);
        await FoundationTests.AssertProblem(await t.Http.GetAsync("/v1/users/kim/memories?kind=opinion"), HttpStatusCode.BadRequest);
        await FoundationTests.AssertProblem(await t.Http.GetAsync("/v1/users/kim/memories?limit=0"), HttpStatusCode.BadRequest);
        await FoundationTests.AssertProblem(await t.Http.GetAsync("/v1/users?cursor=%%%"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task BodyOverTheSizeLimitGets413()
    {
        using var t = await api.NewTenantAsync();
        var huge = new string('a', 17 * 1024 * 1024);
        var response = await t.Http.PostAsync("/v1/users/kim/memories/batch",
            new StringContent($$"""{"items":[{"content":"{{huge}}"}]}""", Encoding.UTF8, "application/json"));
        await FoundationTests.AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }
}
