using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Lifecycle;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static MemoryService.Tests.Lifecycle.ArchiveAndFeedbackTests;

namespace MemoryService.Tests.Lifecycle;

/// <summary>The service with sweeps of one owner each, so a sweep stops short and the next must pick up the rest.</summary>
public sealed class SchedulerFactory : ApiFactory
{
    public SchedulerFactory() => Settings["Lifecycle:OwnersPerSweep"] = "1";

    public LifecycleScheduler Scheduler => Services.GetRequiredService<LifecycleScheduler>();
}

public sealed class LifecycleSchedulerTests(SchedulerFactory api) : IClassFixture<SchedulerFactory>
{
    private async Task<List<int>> SweepUntilIdleAsync()
    {
        var counts = new List<int>();
        for (var i = 0; i < 50; i++)
        {
            var ran = await api.Scheduler.SweepAsync(CancellationToken.None);
            Assert.NotNull(ran);
            counts.Add(ran.Value);
            if (ran == 0) return counts;
        }
        throw new Xunit.Sdk.XunitException("the scheduler never became idle");
    }

    private Task<DateTime> RanAtAsync(TenantClient t, string user) =>
        api.QueryScalarAsync<DateTime>("SELECT ran_at FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2", t.TenantId, user);

    [Fact]
    public async Task SchedulerRunsEachChangedOwnerOnceResumingWhereASweepStopped()
    {
        await SweepUntilIdleAsync(); // owners of earlier tests
        using var t = await api.NewTenantAsync();
        var first = await AddAsync(t, "a", new { content = "Keeps bees in the garden", key = "hobby" });
        var second = await AddAsync(t, "a", new { content = "keeps bees in the garden.", key = "hobby" });
        await AddAsync(t, "b", new { content = "Has a season ticket" });
        await t.Http.PostAsJsonAsync("/v1/knowledge", new { content = "Opening hours are nine to five" }, ApiFactory.Json);

        // one owner per sweep: three changed owners take three sweeps, each continuing from what the last one recorded
        Assert.Equal([1, 1, 1, 0], await SweepUntilIdleAsync());
        var statuses = new List<string>();
        foreach (var id in new[] { first, second })
            statuses.Add((await Read(await t.Http.GetAsync($"/v1/users/a/memories/{id}"))).GetProperty("status").GetString()!);
        Assert.Equal(["active", "archived"], statuses.Order());
        var history = (await Read(await t.Http.GetAsync($"/v1/users/a/memories/{first}/history"))).GetProperty("items").EnumerateArray().Last();
        Assert.Equal("merged", history.GetProperty("event").GetString());
        Assert.Equal(LifecycleScheduler.Actor, history.GetProperty("actor").GetString());

        // only the owner that changed since is run again
        var aRan = await RanAtAsync(t, "a");
        var bRan = await RanAtAsync(t, "b");
        await AddAsync(t, "b", new { content = "Supports the local football club" });
        Assert.Equal([1, 0], await SweepUntilIdleAsync());
        Assert.Equal(aRan, await RanAtAsync(t, "a"));
        Assert.True(await RanAtAsync(t, "b") > bRan);
    }

    [Fact]
    public async Task AutomaticStepsFollowTheTenantsSettings()
    {
        await SweepUntilIdleAsync();
        using var t = await api.NewTenantAsync();
        await Read(await t.Http.PutAsJsonAsync("/v1/settings/lifecycle", new { auto_steps = Array.Empty<string>() }, ApiFactory.Json));
        var a = await AddAsync(t, "a", new { content = "Keeps bees in the garden", key = "hobby" });
        var b = await AddAsync(t, "a", new { content = "keeps bees in the garden.", key = "hobby" });

        Assert.Equal([1, 0], await SweepUntilIdleAsync());
        foreach (var id in new[] { a, b })
            Assert.Equal("active", (await Read(await t.Http.GetAsync($"/v1/users/a/memories/{id}"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task OnlyOneReplicaSweepsAtATime()
    {
        // another replica's sweep holds the lock
        await using var other = new NpgsqlConnection(api.ConnectionString);
        await other.OpenAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_lock(x'4D656D5376634C'::bigint)", other)) await hold.ExecuteNonQueryAsync();

        Assert.Null(await api.Scheduler.SweepAsync(CancellationToken.None));

        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock(x'4D656D5376634C'::bigint)", other)) await release.ExecuteNonQueryAsync();
        Assert.NotNull(await api.Scheduler.SweepAsync(CancellationToken.None));
    }
}
