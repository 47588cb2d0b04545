using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Learning;

/// <summary>Relative dates resolve on the user's local day: the offset of observed_at, or the IANA time_zone.</summary>
public sealed class TimeZoneTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static async Task<HttpResponseMessage> ExtractAsync(TenantClient t, object body) =>
        await t.Http.PostAsJsonAsync($"/v1/users/{LearningApiTests.NewUser()}/memories/extract", body, ApiFactory.Json);

    private static async Task<JsonElement> OnlyCandidateAsync(HttpResponseMessage response)
    {
        var body = await ApiFactory.ReadAsync<JsonElement>(response);
        return Assert.Single(body.GetProperty("decisions").EnumerateArray()).GetProperty("candidate");
    }

    [Fact]
    public async Task TomorrowSaidAtNinePmInUtcMinusEightIsTheNextLocalDay()
    {
        using var t = await factory.NewTenantAsync();

        // 21:00 on Friday 20 November in UTC-8 is already Saturday 05:00 in UTC.
        var candidate = await OnlyCandidateAsync(await ExtractAsync(t, new
        {
            messages = new[] { new { role = "user", content = "I have a dentist appointment tomorrow." } },
            observed_at = "2026-11-20T21:00:00-08:00",
        }));

        Assert.Contains("2026-11-21", candidate.GetProperty("content").GetString());
        Assert.Equal("2026-11-21T00:00:00-08:00", candidate.GetProperty("event_date").GetString());
    }

    [Fact]
    public async Task TimeZoneGivesTheLocalDayOfAUtcInstant()
    {
        using var t = await factory.NewTenantAsync();
        var said = new[] { new { role = "user", content = "I'm flying to Rome tomorrow." } };

        var losAngeles = await OnlyCandidateAsync(await ExtractAsync(t, new
        {
            messages = said, observed_at = "2026-11-21T05:00:00Z", time_zone = "America/Los_Angeles",
        }));
        var utc = await OnlyCandidateAsync(await ExtractAsync(t, new { messages = said, observed_at = "2026-11-21T05:00:00Z" }));

        Assert.Equal("Plans to fly to Rome on 2026-11-21", losAngeles.GetProperty("content").GetString());
        Assert.Equal("Plans to fly to Rome on 2026-11-22", utc.GetProperty("content").GetString());
    }

    [Fact]
    public async Task LearnedEventDateIsTheLocalDayAndTheMemoryIsStored()
    {
        using var t = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();

        var response = await t.Http.PostAsJsonAsync($"/v1/users/{user}/memories/extract", new
        {
            messages = new[] { new { role = "user", content = "I'm flying to Rome tomorrow." } },
            observed_at = "2026-11-21T23:30:00Z", time_zone = "Asia/Tokyo",
        }, ApiFactory.Json);

        var decision = Assert.Single((await ApiFactory.ReadAsync<JsonElement>(response)).GetProperty("decisions").EnumerateArray());
        var id = decision.GetProperty("memory_ids")[0].GetGuid();
        var memory = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/{user}/memories/{id}"));
        Assert.Equal("2026-11-23", memory.GetProperty("metadata").GetProperty("event_date").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 23, 30, 0, TimeSpan.Zero), memory.GetProperty("observed_at").GetDateTimeOffset());
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("../../etc/passwd")]
    [InlineData("")]
    [InlineData("Europe/Rome/Trastevere/Extra")]
    public async Task UnknownTimeZoneIs400NamingTheField(string zone)
    {
        using var t = await factory.NewTenantAsync();

        var response = await ExtractAsync(t, new { messages = new[] { new { role = "user", content = "I like tea" } }, time_zone = zone });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("time_zone", out _), problem.ToString());
    }
}
