using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Context;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Context;

public sealed class ContextApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static async Task<string> AddAsync(TenantClient t, string user, string content, string kind, double importance = 0.5, DateTimeOffset? observedAt = null)
    {
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories",
            new { content, kind, importance, observed_at = observedAt ?? DateTimeOffset.UtcNow }, ApiFactory.Json));
        return created.GetProperty("id").GetString()!;
    }

    internal static async Task<JsonElement> ContextAsync(TenantClient t, string user, object request) =>
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/context", request, ApiFactory.Json));

    [Fact]
    public async Task SectionsComeInOrderWithPreferencesByImportanceAndDates()
    {
        using var t = await factory.NewTenantAsync();
        await AddAsync(t, "u", "Prefers short answers", "preference", 0.4, new DateTimeOffset(2026, 3, 10, 0, 0, 0, TimeSpan.Zero));
        await AddAsync(t, "u", "Is allergic to peanuts", "preference", 0.95, new DateTimeOffset(2025, 1, 2, 0, 0, 0, TimeSpan.Zero));
        await AddAsync(t, "u", "Works as a nurse in Leeds", "fact");
        await AddAsync(t, "u", "Ran the Leeds half marathon", "event", 0.5, new DateTimeOffset(2023, 5, 8, 9, 0, 0, TimeSpan.Zero));
        await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Leeds hospital shifts start at 7am", kind = "knowledge" });

        var body = await ContextAsync(t, "u", new { query = "shifts at work in Leeds", token_budget = 2000 });

        var prompt = body.GetProperty("system_prompt").GetString()!;
        int At(string s) { var i = prompt.IndexOf(s, StringComparison.Ordinal); Assert.True(i >= 0, $"'{s}' missing from:\n{prompt}"); return i; }
        Assert.True(At("Is allergic to peanuts") < At("Prefers short answers"));
        Assert.True(At("Prefers short answers") < At("Works as a nurse in Leeds"));
        Assert.True(At("Works as a nurse in Leeds") < At("Leeds hospital shifts start at 7am"));
        Assert.True(At("Leeds hospital shifts start at 7am") < At("Recent events"));
        At("Prefers short answers (since March 2026)");
        At("Ran the Leeds half marathon (on 8 May 2023)");
        Assert.Equal(["preferences", "memories", "knowledge", "events"],
            body.GetProperty("sections").EnumerateArray().Select(s => s.GetProperty("name").GetString()!));
        Assert.Equal(5, body.GetProperty("memories").GetArrayLength());
        Assert.All(body.GetProperty("memories").EnumerateArray(), m => Assert.True(m.TryGetProperty("score", out _) && m.TryGetProperty("kind", out _)));
    }

    [Fact]
    public async Task SupersededPreferenceIsLeftOutOfContext()
    {
        using var t = await factory.NewTenantAsync();
        var old = await AddAsync(t, "u", "Prefers dark mode", "preference");
        await AddAsync(t, "u", "Prefers light mode", "preference");
        await factory.QueryScalarAsync<int>("WITH u AS (UPDATE memories SET valid_to = now() WHERE id = $1 RETURNING 1) SELECT count(*)::int FROM u", Guid.Parse(old));

        var body = await ContextAsync(t, "u", new { query = "which mode do I prefer" });

        var prompt = body.GetProperty("system_prompt").GetString()!;
        Assert.Contains("Prefers light mode", prompt);
        Assert.DoesNotContain("dark mode", prompt);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(120)]
    [InlineData(300)]
    [InlineData(800)]
    [InlineData(1500)]
    [InlineData(4000)]
    public async Task BudgetIsNeverExceededInO200kBase(int budget) =>
        await BudgetHoldsAsync(factory, budget, new TiktokenTokenCounter("o200k_base"));

    /// <summary>
    /// Seeds varied memories (prose, code, JSON, URLs, eight languages, emoji, and 100 short notes), then checks in
    /// every format that the prompt's exact count is the reported token_count and never above the budget.
    /// </summary>
    internal static async Task BudgetHoldsAsync(ApiFactory factory, int budget, ITokenCounter reference)
    {
        using var t = await factory.NewTenantAsync();
        string[] kinds = ["preference", "fact", "event"];
        var contents = TokenCounterTests.Texts.Select(x => x.Text.Length > 1500 ? x.Text[..1500] : x.Text)
            .Concat(Enumerable.Range(0, 100).Select(i =>
                $"Memory {i}: the user mentioned {(i % 2 == 0 ? "hiking in the Alps with friends" : "cooking Italian food on weekends")} and detail number {i * 7}"))
            .ToList();
        var items = contents.Select((content, i) => new
        {
            content,
            kind = kinds[i % 3],
            importance = (i % 10) / 10.0,
            observed_at = DateTimeOffset.UtcNow.AddDays(-i),
        }).ToArray();
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync("/v1/users/u/memories/batch", new { items }, ApiFactory.Json));
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Hiking huts in the Alps open in June; Hütten öffnen im Juni.", kind = "knowledge" }, ApiFactory.Json);

        foreach (var format in new[] { "text", "markdown", "json" })
        foreach (var query in new[] { "hiking trip", "Wie war das Wetter in München? 東京の天気 🌧️ {\"json\": true}" })
        {
            var body = await ContextAsync(t, "u", new { query, token_budget = budget, format });

            var prompt = body.GetProperty("system_prompt").GetString()!;
            var count = body.GetProperty("token_count").GetInt32();
            Assert.Equal(reference.CountTokens(prompt), count);
            Assert.True(count <= budget, $"{format}: {count} > {budget}");
            if (budget >= 800) Assert.True(body.GetProperty("memories").GetArrayLength() > 5);
        }
    }

    [Fact]
    public async Task BudgetBelowTheTemplateIs422()
    {
        using var t = await factory.NewTenantAsync();

        var response = await t.Http.PostAsJsonAsync("/v1/users/u/context", new { query = "x", token_budget = 5 });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public async Task TemplatesComeFromRequestThenTenantThenDefault()
    {
        using var t = await factory.NewTenantAsync();
        await AddAsync(t, "u", "Likes jazz", "preference");

        var byDefault = await ContextAsync(t, "u", new { query = "music" });
        var put = await t.Http.PutAsJsonAsync("/v1/context/template", new { template = "TENANT {\"json\": 1}\n{{preferences}}" });
        var got = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/context/template"));
        var byTenant = await ContextAsync(t, "u", new { query = "music", format = "markdown" });
        var byRequest = await ContextAsync(t, "u", new { query = "music", template = "REQUEST {{ preferences }} {{events}}" });
        var deleted = await t.Http.DeleteAsync("/v1/context/template");
        var reset = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/context/template"));

        Assert.StartsWith("You are a helpful assistant", byDefault.GetProperty("system_prompt").GetString());
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.False(got.GetProperty("is_default").GetBoolean());
        Assert.StartsWith("TENANT {\"json\": 1}\n## User preferences", byTenant.GetProperty("system_prompt").GetString());
        Assert.Contains("Likes jazz", byTenant.GetProperty("system_prompt").GetString());
        Assert.StartsWith("REQUEST User preferences", byRequest.GetProperty("system_prompt").GetString());
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.True(reset.GetProperty("is_default").GetBoolean());
        Assert.Equal(ContextTemplate.Default, reset.GetProperty("template").GetString());
    }

    [Theory]
    [InlineData("Hello {{unknown}}")]
    [InlineData("Hello {{preferences")]
    [InlineData("Hello preferences}}")]
    [InlineData("")]
    public async Task InvalidTemplateIs400NamingTemplate(string template)
    {
        using var t = await factory.NewTenantAsync();

        var put = await t.Http.PutAsJsonAsync("/v1/context/template", new { template });
        var inline = await t.Http.PostAsJsonAsync("/v1/users/u/context", new { query = "x", template });

        foreach (var response in new[] { put, inline })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty("template", out _));
        }
    }

    [Fact]
    public async Task TooLongTemplateIs400()
    {
        using var t = await factory.NewTenantAsync();

        var put = await t.Http.PutAsJsonAsync("/v1/context/template", new { template = new string('a', ContextTemplate.MaxLength + 1) });

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
    }

    [Fact]
    public async Task MessagesBecomeTheQueryAndSectionsCanBeChosen()
    {
        using var t = await factory.NewTenantAsync();
        await AddAsync(t, "u", "Owns a red bicycle", "fact");
        await AddAsync(t, "u", "Prefers metric units", "preference");

        var body = await ContextAsync(t, "u", new
        {
            messages = new[] { new { role = "user", content = "hello" }, new { role = "assistant", content = "hi!" }, new { role = "user", content = "what colour is my bicycle?" } },
            sections = new[] { "memories" },
        });

        var prompt = body.GetProperty("system_prompt").GetString()!;
        Assert.Contains("Owns a red bicycle", prompt);
        Assert.DoesNotContain("User preferences", prompt);
        Assert.Equal("memories", Assert.Single(body.GetProperty("sections").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task SectionsTheTemplateLeavesOutAreNotGatheredChargedOrListed()
    {
        using var t = await factory.NewTenantAsync();
        await AddAsync(t, "u", "Likes tea", "preference", 0.9);
        var fact = await AddAsync(t, "u", "Works night shifts as a nurse at St James hospital in Leeds", "fact");
        await AddAsync(t, "u", "Ran the Leeds half marathon", "event");
        const string template = "Notes about the user:\n{{memories}}";
        var factOnly = await ContextAsync(t, "u", new { query = "nurse shifts in Leeds", template, sections = new[] { "memories" } });
        var budget = factOnly.GetProperty("token_count").GetInt32();

        // The budget fits exactly what the memories section holds: a gathered preference (worth more) would take the room and never be rendered.
        var body = await ContextAsync(t, "u", new { query = "nurse shifts in Leeds", template, token_budget = budget });

        var prompt = body.GetProperty("system_prompt").GetString()!;
        Assert.Contains("Works night shifts as a nurse", prompt);
        Assert.Equal(["memories"], body.GetProperty("sections").EnumerateArray().Select(s => s.GetProperty("name").GetString()!));
        // Everything listed as used is rendered, in a section the template places.
        var rendered = body.GetProperty("sections").EnumerateArray().SelectMany(s => s.GetProperty("items").EnumerateArray())
            .ToDictionary(i => i.GetProperty("id").GetString()!, i => i.GetProperty("content").GetString()!);
        var used = body.GetProperty("memories").EnumerateArray().ToList();
        Assert.Contains(used, m => m.GetProperty("id").GetString() == fact);
        Assert.All(used, m =>
        {
            Assert.Equal("memories", m.GetProperty("section").GetString());
            Assert.Contains(rendered[m.GetProperty("id").GetString()!], prompt);
        });
        Assert.DoesNotContain("User preferences", prompt);
        Assert.True(body.GetProperty("token_count").GetInt32() <= budget);
    }

    [Fact]
    public async Task LearnedPlanShowsItsOwnDateAndLeavesRecentEventsAfterTheWindow()
    {
        using var t = await factory.NewTenantAsync();
        var user = "planner-" + Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        async Task LearnAsync(string said, DateTimeOffset at) => await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync(
            $"/v1/users/{user}/memories/extract", new { messages = new[] { new { role = "user", content = said } }, observed_at = at }, ApiFactory.Json));
        await LearnAsync("I'm flying to Rome tomorrow.", now.AddDays(-20));        // its day: 19 days ago, past the 7-day window
        await LearnAsync("I'm flying to Paris in two days.", now.AddDays(-3));      // its day: yesterday, within the window
        await LearnAsync("I'm driving to Oslo in two weeks.", now.AddDays(-1));     // its day: 13 days ahead

        var body = await ContextAsync(t, user, new { sections = new[] { "events" }, token_budget = 2000 });

        var prompt = body.GetProperty("system_prompt").GetString()!;
        Assert.DoesNotContain("Rome", prompt);
        string Day(DateTimeOffset d) => d.UtcDateTime.ToString("d MMMM yyyy", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"Paris on {now.AddDays(-1):yyyy-MM-dd} (on {Day(now.AddDays(-1))})", prompt);
        Assert.Contains($"(on {Day(now.AddDays(13))})", prompt);
        Assert.Equal(2, body.GetProperty("memories").GetArrayLength());
    }
}
