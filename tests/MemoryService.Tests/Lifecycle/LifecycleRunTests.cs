using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using static MemoryService.Tests.Lifecycle.ArchiveAndFeedbackTests;

namespace MemoryService.Tests.Lifecycle;

/// <summary>Lifecycle runs through HTTP: consolidate, forget, promote, dry run, knowledge, settings.</summary>
public sealed class LifecycleRunTests(LifecycleFactory api) : IClassFixture<LifecycleFactory>
{
    private static async Task<JsonElement> RunAsync(TenantClient t, string path, object body) =>
        await Read(await t.Http.PostAsJsonAsync(path, body, ApiFactory.Json));

    private static async Task<JsonElement> GetAsync(TenantClient t, string path) => await Read(await t.Http.GetAsync(path));

    private static readonly DateTimeOffset Jan = new(2025, 1, 10, 9, 0, 0, TimeSpan.Zero);

    private static async Task<(string Short, string Long, string Again, string Other)> SeedRestatementsAsync(TenantClient t, string user)
    {
        var shortOne = await AddAsync(t, user, new { content = "Works as a nurse at Leeds General", key = "job", importance = 0.4, tags = new[] { "work" },
            observed_at = Jan });
        var longOne = await AddAsync(t, user, new { content = "Works as a nurse at Leeds General hospital", key = "job", importance = 0.8,
            confidence = 0.7, tags = new[] { "career" }, observed_at = Jan.AddMonths(3) });
        var again = await AddAsync(t, user, new { content = "works as a nurse at Leeds General.", key = "job", observed_at = Jan.AddMonths(6) });
        // the same frame with another value: an update, never a restatement
        var other = await AddAsync(t, user, new { content = "Works as a teacher at Leeds General", key = "job", observed_at = Jan.AddMonths(7) });
        return (shortOne, longOne, again, other);
    }

    [Fact]
    public async Task ConsolidationMergesRestatedFactsWithHistoryLinksBothWays()
    {
        using var t = await api.NewTenantAsync();
        var (shortOne, longOne, again, other) = await SeedRestatementsAsync(t, "u");

        var report = await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "consolidate" } });

        var merge = Assert.Single(report.GetProperty("merged").EnumerateArray());
        Assert.Equal(longOne, merge.GetProperty("into").GetString());
        Assert.Equal(new[] { again, shortOne }.Order(), merge.GetProperty("from").EnumerateArray().Select(f => f.GetString()!).Order());
        Assert.False(report.GetProperty("dry_run").GetBoolean());

        var survivor = await GetAsync(t, $"/v1/users/u/memories/{longOne}");
        Assert.Equal("active", survivor.GetProperty("status").GetString());
        Assert.Equal("Works as a nurse at Leeds General hospital", survivor.GetProperty("content").GetString());
        Assert.Equal(0.8, survivor.GetProperty("importance").GetDouble(), 3);
        Assert.Equal(1.0, survivor.GetProperty("confidence").GetDouble(), 3);
        Assert.Equal(["career", "work"], survivor.GetProperty("tags").EnumerateArray().Select(x => x.GetString()!).Order());
        Assert.Equal(Jan, survivor.GetProperty("valid_from").GetDateTimeOffset());
        Assert.Equal(Jan.AddMonths(6), survivor.GetProperty("observed_at").GetDateTimeOffset());
        foreach (var id in new[] { shortOne, again })
        {
            Assert.Equal("archived", (await GetAsync(t, $"/v1/users/u/memories/{id}")).GetProperty("status").GetString());
            var link = (await GetAsync(t, $"/v1/users/u/memories/{id}/history")).GetProperty("items").EnumerateArray().Last();
            Assert.Equal("merged", link.GetProperty("event").GetString());
            Assert.Equal(longOne, link.GetProperty("detail").GetProperty("into").GetString());
        }
        var back = (await GetAsync(t, $"/v1/users/u/memories/{longOne}/history")).GetProperty("items").EnumerateArray().Last();
        Assert.Equal("merged", back.GetProperty("event").GetString());
        Assert.Equal(new[] { again, shortOne }.Order(), back.GetProperty("detail").GetProperty("from").EnumerateArray().Select(f => f.GetString()!).Order());
        Assert.Equal("active", (await GetAsync(t, $"/v1/users/u/memories/{other}")).GetProperty("status").GetString());

        var found = await SearchIdsAsync(t, "u", "nurse Leeds General");
        Assert.Contains(longOne, found);
        Assert.DoesNotContain(shortOne, found);
        Assert.DoesNotContain(again, found);

        // nothing left to merge: a second run changes nothing
        Assert.Equal(0, (await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "consolidate" } })).GetProperty("merged").GetArrayLength());
    }

    [Fact]
    public async Task DryRunAnswersWhatItWouldDoAndWritesNothing()
    {
        using var t = await api.NewTenantAsync();
        var (shortOne, longOne, again, _) = await SeedRestatementsAsync(t, "u");
        var historyBefore = await api.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1", t.TenantId);
        var versionsBefore = await api.QueryScalarAsync<long>("SELECT sum(version)::bigint FROM memories WHERE tenant_id = $1", t.TenantId);
        var ownerVersion = await api.QueryScalarAsync<long>("SELECT memory_version FROM users WHERE tenant_id = $1", t.TenantId);

        var report = await RunAsync(t, "/v1/users/u/lifecycle/run", new { dry_run = true });

        Assert.True(report.GetProperty("dry_run").GetBoolean());
        Assert.Equal(longOne, Assert.Single(report.GetProperty("merged").EnumerateArray()).GetProperty("into").GetString());
        Assert.Equal(historyBefore, await api.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(versionsBefore, await api.QueryScalarAsync<long>("SELECT sum(version)::bigint FROM memories WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(ownerVersion, await api.QueryScalarAsync<long>("SELECT memory_version FROM users WHERE tenant_id = $1", t.TenantId));
        foreach (var id in new[] { shortOne, longOne, again })
            Assert.Equal("active", (await GetAsync(t, $"/v1/users/u/memories/{id}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task ForgettingArchivesWhatFadedButNeverAPinnedMemoryOrAnImportantPreference()
    {
        using var t = await api.NewTenantAsync();
        // every importance below 1 counts as unimportant here, so only pinned and the preference rule protect
        await Read(await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { forget_importance_below = 1.0 }, ApiFactory.Json));
        var faded = await AddAsync(t, "u", new { content = "Once tried a durian smoothie", importance = 0.9, confidence = 0.3 });
        var pinned = await AddAsync(t, "u", new { content = "Passport number is in the blue folder", importance = 0.1, confidence = 0.3, pinned = true });
        var preference = await AddAsync(t, "u", new { content = "Prefers aisle seats", kind = "preference", importance = 0.9, confidence = 0.3 });
        var confident = await AddAsync(t, "u", new { content = "Has a brother in Oslo", importance = 0.1, confidence = 1.0 });
        try
        {
            api.Clock.Offset = TimeSpan.FromDays(200);
            var fresh = await AddAsync(t, "u", new { content = "Tried a new ramen place", importance = 0.1, confidence = 0.3 });

            var report = await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "forget" } });

            Assert.Equal([faded], report.GetProperty("archived").EnumerateArray().Select(a => a.GetString()!));
            Assert.Equal("archived", (await GetAsync(t, $"/v1/users/u/memories/{faded}")).GetProperty("status").GetString());
            foreach (var kept in new[] { pinned, preference, confident, fresh })
                Assert.Equal("active", (await GetAsync(t, $"/v1/users/u/memories/{kept}")).GetProperty("status").GetString());
            var forgotten = (await GetAsync(t, $"/v1/users/u/memories/{faded}/history")).GetProperty("items").EnumerateArray().Last();
            Assert.Equal("forgotten", forgotten.GetProperty("event").GetString());
            Assert.True(forgotten.GetProperty("detail").GetProperty("activation").GetDouble() < 0.1);
            Assert.DoesNotContain(faded, await SearchIdsAsync(t, "u", "durian smoothie"));

            // restore brings it back
            Assert.Equal(HttpStatusCode.OK, (await t.Http.PostAsync($"/v1/users/u/memories/{faded}/restore", null)).StatusCode);
            Assert.Contains(faded, await SearchIdsAsync(t, "u", "durian smoothie"));
            Assert.Equal(["created", "forgotten", "restored"], await EventsAsync(t, $"/v1/users/u/memories/{faded}"));
        }
        finally
        {
            api.Clock.Offset = TimeSpan.Zero;
        }
    }

    [Fact]
    public async Task NotHelpfulFeedbackLetsForgettingTakeAnUnusedMemory()
    {
        using var t = await api.NewTenantAsync();
        var id = await AddAsync(t, "u", new { content = "Collected stamps as a child", importance = 0.2 });
        try
        {
            api.Clock.Offset = TimeSpan.FromDays(120);
            Assert.Equal(0, (await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "forget" } })).GetProperty("archived").GetArrayLength());
            await Read(await t.Http.PostAsJsonAsync($"/v1/users/u/memories/{id}/feedback", new { signal = "not_helpful" }, ApiFactory.Json));
            var report = await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "forget" } });
            Assert.Equal([id], report.GetProperty("archived").EnumerateArray().Select(a => a.GetString()!));
        }
        finally
        {
            api.Clock.Offset = TimeSpan.Zero;
        }
    }

    [Fact]
    public async Task AnActivityOnThreeDaysIsPromotedOnceWithTheEventsAsEvidence()
    {
        using var t = await api.NewTenantAsync();
        var runs = new List<string>();
        for (var day = 0; day < 3; day++)
            runs.Add(await AddAsync(t, "u", new { content = "Went running in the park", kind = "event", observed_at = Jan.AddDays(day * 2) }));
        runs.Add(await AddAsync(t, "u", new { content = "Went running in the park", kind = "event", observed_at = Jan.AddDays(4).AddHours(8) }));
        await AddAsync(t, "u", new { content = "Baked sourdough bread", kind = "event", observed_at = Jan });
        await AddAsync(t, "u", new { content = "Baked sourdough bread", kind = "event", observed_at = Jan.AddDays(1) });
        await AddAsync(t, "u", new { content = "Visited the dentist", kind = "event", observed_at = Jan.AddDays(3) });

        var report = await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "promote" } });

        var promotion = Assert.Single(report.GetProperty("promoted").EnumerateArray());
        Assert.Equal(runs.Order(), promotion.GetProperty("evidence").EnumerateArray().Select(e => e.GetString()!).Order());
        var id = promotion.GetProperty("id").GetString()!;
        var fact = await GetAsync(t, $"/v1/users/u/memories/{id}");
        Assert.Equal("fact", fact.GetProperty("kind").GetString());
        Assert.Contains("Went running in the park", fact.GetProperty("content").GetString());
        Assert.Contains("3 days", fact.GetProperty("content").GetString());
        Assert.Equal("inferred", fact.GetProperty("source").GetString());
        Assert.Equal(runs.Order(), fact.GetProperty("metadata").GetProperty("promoted_from").EnumerateArray().Select(e => e.GetString()!).Order());
        Assert.Equal(["created", "promoted"], await EventsAsync(t, $"/v1/users/u/memories/{id}"));
        Assert.Equal("promoted", (await EventsAsync(t, $"/v1/users/u/memories/{runs[0]}")).Last());
        Assert.Contains(id, await SearchIdsAsync(t, "u", "running in the park"));

        // promoted once: the same events never make a second routine
        Assert.Equal(0, (await RunAsync(t, "/v1/users/u/lifecycle/run", new { steps = new[] { "promote" } })).GetProperty("promoted").GetArrayLength());
    }

    [Fact]
    public async Task KnowledgeHasTheSameLifecycle()
    {
        using var t = await api.NewTenantAsync();
        var a = (await Read(await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Refunds are processed within 5 business days" }, ApiFactory.Json)))
            .GetProperty("id").GetString();
        var b = (await Read(await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Refunds are processed within 5 business days." }, ApiFactory.Json)))
            .GetProperty("id").GetString();

        var report = await RunAsync(t, "/v1/knowledge/lifecycle/run", new { steps = new[] { "consolidate" } });

        var merge = Assert.Single(report.GetProperty("merged").EnumerateArray());
        var archived = merge.GetProperty("from")[0].GetString();
        Assert.Contains(archived, new[] { a, b });
        Assert.Equal("archived", (await GetAsync(t, $"/v1/knowledge/{archived}")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await t.Http.PostAsync($"/v1/knowledge/{archived}/restore", null)).StatusCode);
        Assert.Equal("active", (await GetAsync(t, $"/v1/knowledge/{archived}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task RunRefusesNoStepsAndAnswersNotFoundForAnUnknownUser()
    {
        using var t = await api.NewTenantAsync();
        var empty = await t.Http.PostAsJsonAsync("/v1/users/u/lifecycle/run", new { steps = Array.Empty<string>() }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        var unknown = await t.Http.PostAsJsonAsync("/v1/users/u/lifecycle/run", new { steps = new[] { "explode" } }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await t.Http.PostAsJsonAsync("/v1/users/nobody/lifecycle/run", new { }, ApiFactory.Json)).StatusCode);
    }

    [Fact]
    public async Task SettingsAreStoredPerTenantAndValidated()
    {
        using var t = await api.NewTenantAsync();
        var initial = await GetAsync(t, "/v1/settings/lifecycle");
        Assert.True(initial.GetProperty("is_default").GetBoolean());
        Assert.Equal(3, initial.GetProperty("settings").GetProperty("promote_min_days").GetInt32());

        var bad = await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { promote_min_days = 1, forget_unused_days = -3 }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var badBody = await bad.Content.ReadAsStringAsync();
        Assert.Contains("promote_min_days", badBody);
        Assert.Contains("forget_unused_days", badBody);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { colour = "blue" }, ApiFactory.Json)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { promote_min_days = "many" }, ApiFactory.Json)).StatusCode);

        var put = await Read(await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { promote_min_days = 5, auto_steps = new[] { "forget" } }, ApiFactory.Json));
        Assert.Equal(5, put.GetProperty("settings").GetProperty("promote_min_days").GetInt32());
        var stored = await GetAsync(t, "/v1/settings/lifecycle");
        Assert.False(stored.GetProperty("is_default").GetBoolean());
        Assert.Equal(["forget"], stored.GetProperty("settings").GetProperty("auto_steps").EnumerateArray().Select(s => s.GetString()!));
        Assert.Equal(90, stored.GetProperty("settings").GetProperty("forget_unused_days").GetInt32());

        using var other = await api.NewTenantAsync();
        Assert.True((await GetAsync(other, "/v1/settings/lifecycle")).GetProperty("is_default").GetBoolean());
    }
}
