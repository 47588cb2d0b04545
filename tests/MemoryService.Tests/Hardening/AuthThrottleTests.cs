using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MemoryService.Tenancy;
using MemoryService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace MemoryService.Tests.Hardening;

public sealed class AuthThrottleTests
{
    private sealed class StrictFactory : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Auth:FailedAttemptsBurst", "10");
            builder.UseSetting("Auth:FailedAttemptsPerMinute", "6");
            builder.UseSetting("Auth:KeyCacheEntries", "100");
            builder.UseSetting("RateLimit:AdminBurst", "5");
            builder.UseSetting("RateLimit:AdminPermitsPerSecond", "1");
        }
    }

    private static HttpClient WithKey(ApiFactory factory, string key)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    [Fact]
    public async Task RandomKeysAreThrottledPerAddressWith429AndRetryAfterAndTheCacheStaysBounded()
    {
        await using var factory = new StrictFactory();
        using var t = await factory.NewTenantAsync();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 2000; i++)
        {
            using var client = WithKey(factory, "msk_" + Guid.NewGuid().ToString("N"));
            last = await client.GetAsync("/v1/users");
            statuses.Add(last.StatusCode);
        }
        // The first ten wrong keys are looked up (401); every later one is refused before lookup.
        Assert.Equal(10, statuses.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(1990, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal("application/problem+json", last!.Content.Headers.ContentType?.MediaType);
        Assert.True(last.Headers.RetryAfter?.Delta?.TotalSeconds >= 1);
        Assert.True(factory.Services.GetRequiredService<ApiKeys>().CachedVerdicts <= 100);

        // A valid key from the same address is refused too while the address is throttled: guessing cannot continue.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await t.Http.GetAsync("/v1/users")).StatusCode);
        TestDatabase.DropDatabase(factory.ConnectionString);
    }

    [Fact]
    public async Task AdminCallsAreRateLimited()
    {
        await using var factory = new StrictFactory();
        using var admin = factory.Admin();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++) statuses.Add((await admin.GetAsync("/v1/admin/tenants")).StatusCode);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(statuses.Count(s => s == HttpStatusCode.OK) <= 8, string.Join(",", statuses));
        TestDatabase.DropDatabase(factory.ConnectionString);
    }

    private sealed class ShortAdminKeyFactory : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Auth:AdminKey", "short-admin-key");
        }
    }

    [Fact]
    public async Task AnAdminKeyShorterThan32CharactersIsRefusedAtStart()
    {
        await using var factory = new ShortAdminKeyFactory();
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("at least 32 characters", error.ToString());
        TestDatabase.DropDatabase(factory.ConnectionString);
    }
}
