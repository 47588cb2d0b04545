using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Lifecycle;

/// <summary>Archived and pinned memories, restore, and feedback signals, through HTTP.</summary>
public sealed class ArchiveAndFeedbackTests(LifecycleFactory api) : IClassFixture<LifecycleFactory>
{
    internal static async Task<JsonElement> Read(HttpResponseMessage r) => await ApiFactory.ReadAsync<JsonElement>(r);

    internal static async Task<string> AddAsync(TenantClient t, string user, object body) =>
        (await Read(await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories", body, ApiFactory.Json))).GetProperty("id").GetString()!;

    internal static async Task<List<string>> SearchIdsAsync(TenantClient t, string user, string query) =>
        (await Read(await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories/search", new { query, limit = 10 }, ApiFactory.Json)))
            .GetProperty("items").EnumerateArray().Select(i => i.GetProperty("memory").GetProperty("id").GetString()!).ToList();

    internal static async Task<(string Prompt, List<string> Ids)> ContextAsync(TenantClient t, string user, string query)
    {
        var body = await Read(await t.Http.PostAsJsonAsync($"/v1/users/{user}/context", new { query, token_budget = 2000 }, ApiFactory.Json));
        return (body.GetProperty("system_prompt").GetString()!,
            body.GetProperty("memories").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList());
    }

    internal static async Task<List<string>> EventsAsync(TenantClient t, string path) =>
        (await Read(await t.Http.GetAsync(path + "/history"))).GetProperty("items").EnumerateArray()
            .Select(h => h.GetProperty("event").GetString()!).ToList();

    internal static async Task<List<string>> ListIdsAsync(TenantClient t, string user, string query = "") =>
        (await Read(await t.Http.GetAsync($"/v1/users/{user}/memories{query}"))).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("id").GetString()!).ToList();

    [Fact]
    public async Task ArchivedMemoryIsKeptListedOnRequestAndNeverServedUntilRestored()
    {
        using var t = await api.NewTenantAsync();
        var kept = await AddAsync(t, "u", new { content = "Keeps a kayak called Otterbrook", kind = "fact" });
        var other = await AddAsync(t, "u", new { content = "Paddles the kayak on Sundays", kind = "fact" });
        // the owner's index is loaded (and cached) before the archive, so the test also proves the cached index follows it
        Assert.Contains(kept, await SearchIdsAsync(t, "u", "kayak Otterbrook"));

        var patched = await Read(await t.Http.PatchAsJsonAsync($"/v1/users/u/memories/{kept}", new { status = "archived" }, ApiFactory.Json));
        Assert.Equal("archived", patched.GetProperty("status").GetString());

        var found = await SearchIdsAsync(t, "u", "kayak Otterbrook");
        Assert.DoesNotContain(kept, found);
        Assert.Contains(other, found);
        var (prompt, ids) = await ContextAsync(t, "u", "kayak Otterbrook");
        Assert.DoesNotContain("Otterbrook", prompt);
        Assert.DoesNotContain(kept, ids);
        Assert.DoesNotContain(kept, await ListIdsAsync(t, "u"));
        Assert.Contains(kept, await ListIdsAsync(t, "u", "?include_archived=true"));
        Assert.Equal("archived", (await Read(await t.Http.GetAsync($"/v1/users/u/memories/{kept}"))).GetProperty("status").GetString());
        var export = await Read(await t.Http.GetAsync("/v1/users/u/export"));
        Assert.Contains(export.GetProperty("memories").EnumerateArray(), m => m.GetProperty("id").GetString() == kept
            && m.GetProperty("status").GetString() == "archived");
        var users = await Read(await t.Http.GetAsync("/v1/users"));
        Assert.Equal(1, users.GetProperty("items")[0].GetProperty("current_memory_count").GetInt32());

        var restored = await t.Http.PostAsync($"/v1/users/u/memories/{kept}/restore", null);
        Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        Assert.Equal("active", (await Read(restored)).GetProperty("status").GetString());
        Assert.Contains(kept, await SearchIdsAsync(t, "u", "kayak Otterbrook"));
        Assert.Contains("Otterbrook", (await ContextAsync(t, "u", "kayak Otterbrook")).Prompt);
        var history = await Read(await t.Http.GetAsync($"/v1/users/u/memories/{kept}/history"));
        var events = history.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["created", "archived", "restored"], events.Select(h => h.GetProperty("event").GetString()!));
        Assert.Equal(t.KeyId.ToString(), events[2].GetProperty("actor").GetString());
    }

    [Fact]
    public async Task RestoreAnswersConflictForAnActiveMemoryAndNotFoundForAnother()
    {
        using var t = await api.NewTenantAsync();
        var id = await AddAsync(t, "u", new { content = "Owns a red bicycle" });
        var conflict = await t.Http.PostAsync($"/v1/users/u/memories/{id}/restore", null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal("application/problem+json", conflict.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.PostAsync($"/v1/users/u/memories/{Guid.NewGuid()}/restore", null)).StatusCode);
        Assert.Equal(["created"], await EventsAsync(t, $"/v1/users/u/memories/{id}"));
    }

    [Fact]
    public async Task PinnedIsSetOnCreateAndChangedByPatch()
    {
        using var t = await api.NewTenantAsync();
        var created = await Read(await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content = "Blood type is O negative", pinned = true }, ApiFactory.Json));
        Assert.True(created.GetProperty("pinned").GetBoolean());
        Assert.Equal("active", created.GetProperty("status").GetString());
        var id = created.GetProperty("id").GetString();
        var plain = await Read(await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content = "Likes jazz" }, ApiFactory.Json));
        Assert.False(plain.GetProperty("pinned").GetBoolean());

        var unpinned = await Read(await t.Http.PatchAsJsonAsync($"/v1/users/u/memories/{id}", new { pinned = false }, ApiFactory.Json));
        Assert.False(unpinned.GetProperty("pinned").GetBoolean());
        Assert.False((await Read(await t.Http.GetAsync($"/v1/users/u/memories/{id}"))).GetProperty("pinned").GetBoolean());

        var bad = await t.Http.PatchAsJsonAsync($"/v1/users/u/memories/{id}", new { pinned = "yes", status = "gone" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var badStatus = await t.Http.PatchAsJsonAsync($"/v1/users/u/memories/{id}", new { status = "gone" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Contains("status", (await badStatus.Content.ReadAsStringAsync()));
    }

    // ---- feedback ----

    private async Task<JsonElement> FeedbackAsync(TenantClient t, string id, string signal, string? comment = null) =>
        await Read(await t.Http.PostAsJsonAsync($"/v1/users/u/memories/{id}/feedback", new { signal, comment }, ApiFactory.Json));

    [Fact]
    public async Task HelpfulRaisesConfidenceAndCountsAsAUse()
    {
        using var t = await api.NewTenantAsync();
        var id = await AddAsync(t, "u", new { content = "Drinks oat milk", confidence = 0.5 });

        var after = await FeedbackAsync(t, id, "helpful", "spot on");

        Assert.True(after.GetProperty("confidence").GetDouble() > 0.5);
        Assert.Equal(1, after.GetProperty("access_count").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, after.GetProperty("last_accessed_at").ValueKind);
        var feedback = (await Read(await t.Http.GetAsync($"/v1/users/u/memories/{id}/history"))).GetProperty("items")[1];
        Assert.Equal("feedback", feedback.GetProperty("event").GetString());
        Assert.Equal("helpful", feedback.GetProperty("detail").GetProperty("signal").GetString());
        Assert.Equal("spot on", feedback.GetProperty("detail").GetProperty("comment").GetString());
        Assert.Equal(t.KeyId.ToString(), feedback.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task NotHelpfulLowersConfidenceSoTheMemoryRanksBelowAnEqualMatch()
    {
        using var t = await api.NewTenantAsync();
        var a = await AddAsync(t, "u", new { content = "Favourite hike is the Quiraing loop" });
        var b = await AddAsync(t, "u", new { content = "Favourite hike is the Quiraing ridge" });
        var before = await SearchIdsAsync(t, "u", "favourite hike Quiraing");
        var first = before[0];
        var second = first == a ? b : a;

        var after = await FeedbackAsync(t, first, "not_helpful");

        Assert.True(after.GetProperty("confidence").GetDouble() < 1);
        Assert.Equal([second, first], (await SearchIdsAsync(t, "u", "favourite hike Quiraing")).Take(2));
        Assert.Equal(["created", "feedback"], await EventsAsync(t, $"/v1/users/u/memories/{first}"));
    }

    [Theory]
    [InlineData("wrong")]
    [InlineData("outdated")]
    public async Task WrongAndOutdatedEndValidityAtOnceButKeepTheMemoryInHistoryAndExport(string signal)
    {
        using var t = await api.NewTenantAsync();
        var id = await AddAsync(t, "u", new { content = "Lives in Marrakesh", kind = "fact" });
        Assert.Contains(id, await SearchIdsAsync(t, "u", "Marrakesh"));

        var after = await FeedbackAsync(t, id, signal, "moved away");

        Assert.NotEqual(JsonValueKind.Null, after.GetProperty("valid_to").ValueKind);
        Assert.DoesNotContain(id, await SearchIdsAsync(t, "u", "Marrakesh"));
        Assert.DoesNotContain("Marrakesh", (await ContextAsync(t, "u", "where does the user live Marrakesh")).Prompt);
        Assert.Contains(id, await ListIdsAsync(t, "u", "?include_superseded=true"));
        var export = await Read(await t.Http.GetAsync("/v1/users/u/export"));
        Assert.Contains(export.GetProperty("memories").EnumerateArray(), m => m.GetProperty("id").GetString() == id);
        var history = (await Read(await t.Http.GetAsync($"/v1/users/u/memories/{id}/history"))).GetProperty("items")[1];
        Assert.Equal(signal, history.GetProperty("detail").GetProperty("signal").GetString());
        Assert.Equal(t.KeyId.ToString(), history.GetProperty("actor").GetString());
        // feedback on a memory that is no longer valid is a conflict, not a second change
        var again = await t.Http.PostAsJsonAsync($"/v1/users/u/memories/{id}/feedback", new { signal = "helpful" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task FeedbackRefusesAnUnknownSignalAndAnUnknownMemory()
    {
        using var t = await api.NewTenantAsync();
        var id = await AddAsync(t, "u", new { content = "Plays the cello" });
        var bad = await t.Http.PostAsJsonAsync($"/v1/users/u/memories/{id}/feedback", new { signal = "meh" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("signal", await bad.Content.ReadAsStringAsync());
        var missing = await t.Http.PostAsJsonAsync($"/v1/users/u/memories/{Guid.NewGuid()}/feedback", new { signal = "wrong" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(["created"], await EventsAsync(t, $"/v1/users/u/memories/{id}"));
    }
}
