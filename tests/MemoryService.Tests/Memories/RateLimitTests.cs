using System.Net;
using MemoryService.Tests.Foundation;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Memories;

/// <summary>The service with a tiny per-key token bucket.</summary>
public sealed class RateLimitedApiFactory : ApiFactory
{
    public RateLimitedApiFactory()
    {
        Settings["RateLimit:PermitsPerSecond"] = "1";
        Settings["RateLimit:Burst"] = "3";
    }
}

public sealed class RateLimitTests(RateLimitedApiFactory api) : IClassFixture<RateLimitedApiFactory>
{
    [Fact]
    public async Task AKeyOverItsRateGets429WithRetryAfterWhileOtherKeysAreServed()
    {
        using var t = await api.NewTenantAsync();
        using var other = await api.NewTenantAsync();
        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++) statuses.Add(await t.Http.GetAsync("/v1/users"));

        var limited = statuses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(statuses.Count(r => r.StatusCode == HttpStatusCode.OK) is >= 3 and < 6);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        await FoundationTests.AssertProblem(limited, HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, (await other.Http.GetAsync("/v1/users")).StatusCode);
    }
}
