using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Context;

/// <summary>The "people and places" context section: entities the query concerns with their current relations, asked for
/// by name, inside the token budget.</summary>
public sealed class PeopleSectionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static async Task AddAsync(TenantClient t, string user, string content, DateTimeOffset at) =>
        (await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories", new { content, observed_at = at }, ApiFactory.Json)).EnsureSuccessStatusCode();

    private static async Task SeedAsync(TenantClient t, string user)
    {
        var at = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await AddAsync(t, user, "My sister Anna lives in Porto.", at);
        await AddAsync(t, user, "Anna moved to Lisbon.", at.AddDays(30));
        await AddAsync(t, user, "Our dog Rex loves the beach.", at.AddDays(31));
        await AddAsync(t, user, "I prefer tea over coffee.", at.AddDays(32));
    }

    [Fact]
    public async Task TheQuerysPeopleComeWithTheirCurrentRelationsOnlyWhenAskedFor()
    {
        using var t = await factory.NewTenantAsync();
        await SeedAsync(t, "u");

        var body = await ContextApiTests.ContextAsync(t, "u", new { query = "Gift ideas for my sister", sections = new[] { "memories", "people" }, token_budget = 2000 });
        var prompt = body.GetProperty("system_prompt").GetString()!;
        Assert.Contains("People and places:", prompt);
        var line = Assert.Single(prompt.Split('\n'), l => l.StartsWith("- Anna (", StringComparison.Ordinal));
        Assert.Equal("- Anna (person, sister): lives in Lisbon; the user's sister", line); // Porto ended with the later move
        // the query's entity first; those the relevant memories mention after it
        Assert.True(prompt.IndexOf("- Anna (", StringComparison.Ordinal) < prompt.IndexOf("- Rex (", StringComparison.Ordinal));
        Assert.True(prompt.IndexOf("What you know about the user", StringComparison.Ordinal) < prompt.IndexOf("People and places", StringComparison.Ordinal));
        var people = Assert.Single(body.GetProperty("sections").EnumerateArray(), s => s.GetProperty("name").GetString() == "people");
        var anna = people.GetProperty("items").EnumerateArray().First();
        var entities = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/users/u/entities?q=anna"));
        Assert.Equal(Assert.Single(entities.GetProperty("items").EnumerateArray()).GetProperty("id").GetString(), anna.GetProperty("id").GetString());
        // the memories list holds memories only
        Assert.DoesNotContain(body.GetProperty("memories").EnumerateArray(), m => m.GetProperty("section").GetString() == "people");

        // not part of the default sections
        var plain = await ContextApiTests.ContextAsync(t, "u", new { query = "Gift ideas for my sister", token_budget = 2000 });
        Assert.DoesNotContain("People and places", plain.GetProperty("system_prompt").GetString()!);
    }

    [Fact]
    public async Task UnderATightBudgetThePromptStillFitsAndListsOnlyWhatItRenders()
    {
        using var t = await factory.NewTenantAsync();
        await SeedAsync(t, "u");
        var request = new { query = "Gift ideas for my sister", sections = new[] { "memories", "people" }, token_budget = 2000 };
        var full = await ContextApiTests.ContextAsync(t, "u", request);
        var memoriesOnly = await ContextApiTests.ContextAsync(t, "u", request with { sections = new[] { "memories" } });
        var budget = memoriesOnly.GetProperty("token_count").GetInt32();
        Assert.True(full.GetProperty("token_count").GetInt32() > budget);

        var tight = await ContextApiTests.ContextAsync(t, "u", request with { token_budget = budget });
        Assert.True(tight.GetProperty("token_count").GetInt32() <= budget);
        var prompt = tight.GetProperty("system_prompt").GetString()!;
        Assert.All(tight.GetProperty("sections").EnumerateArray().SelectMany(s => s.GetProperty("items").EnumerateArray()),
            i => Assert.Contains(i.GetProperty("content").GetString()!, prompt));
        Assert.True(tight.GetProperty("sections").EnumerateArray().Sum(s => s.GetProperty("items").GetArrayLength())
            < full.GetProperty("sections").EnumerateArray().Sum(s => s.GetProperty("items").GetArrayLength()));
    }
}
