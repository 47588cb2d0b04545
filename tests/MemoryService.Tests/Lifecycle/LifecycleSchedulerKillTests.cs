using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.Json;
using MemoryService.Lifecycle;
using MemoryService.Tests.Infrastructure;
using MemoryService.Tests.Learning;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MemoryService.Tests.Lifecycle;

/// <summary>
/// The lifecycle scheduler resumes after kill -9: the service runs as a real child process (<c>dotnet MemoryService.dll</c>)
/// with the scheduler on; its sweep is held at the third of four owners (the test holds that owner's advisory lock) and
/// the process is killed there. A fresh host on the same database then runs exactly the two owners the dead sweep had
/// not finished, and never the two it had.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LifecycleSchedulerKillTests : IAsyncLifetime
{
    private readonly string _connectionString = TestDatabase.CreateDatabase();
    private ServiceProcess? _service;

    [Fact]
    public async Task ASweepKilledMidwayResumesWithTheOwnersItHadNotFinished()
    {
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Memory"] = _connectionString,
            ["Auth__AdminKey"] = LearningJobRestartTests.AdminKey,
            ["Lifecycle__Enabled"] = "true",
            ["Lifecycle__IntervalMinutes"] = "0.01",
        }, TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = new Uri(_service.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var (tenantId, key) = await LearningJobRestartTests.NewTenantKeyAsync(http);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        string[] users = ["u1", "u2", "u3", "u4"]; // the order a sweep takes them in

        // 1. hold u3's lock (the one every lifecycle run takes) before its memories exist, then give every user a restatement
        await using var holder = new NpgsqlConnection(_connectionString);
        await holder.OpenAsync();
        var held = await holder.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0))", holder, held))
        {
            lockCmd.Parameters.AddWithValue(tenantId);
            lockCmd.Parameters.AddWithValue("u3");
            await lockCmd.ExecuteNonQueryAsync();
        }
        foreach (var user in users)
            foreach (var content in new[] { "Keeps bees in the garden", "keeps bees in the garden." })
                (await http.PostAsJsonAsync($"/v1/users/{user}/memories", new { content, key = "hobby" }, ApiFactory.Json)).EnsureSuccessStatusCode();

        // 2. the scheduler finishes u1 and u2 at their current versions and waits on u3; kill -9 there
        await LearningJobsTests.WaitForAsync(async () => await FinishedAsync(tenantId, "u1") && await FinishedAsync(tenantId, "u2"), seconds: 30);
        // the sweep moved on to u3 and waits for its lock
        await LearningJobsTests.WaitForAsync(async () => await ScalarAsync<long>("""
            SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()
            """) == 1, seconds: 30);
        _service.Kill();
        await held.RollbackAsync();
        var ranBefore = new Dictionary<string, DateTime>();
        foreach (var user in new[] { "u1", "u2" })
        {
            Assert.Equal(1L, await ScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND status = 'archived'", tenantId, user));
            ranBefore[user] = await ScalarAsync<DateTime>("SELECT ran_at FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2", tenantId, user);
        }
        foreach (var user in new[] { "u3", "u4" })
        {
            Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2", tenantId, user));
            Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND status = 'archived'", tenantId, user));
        }

        // 3. a fresh host on the same database: its sweep (once the dead one's session is gone) runs u3 and u4 only
        await using var fresh = new SameDatabaseFactory(_connectionString);
        var scheduler = fresh.Services.GetRequiredService<LifecycleScheduler>();
        int? ran = null;
        for (var i = 0; i < 100 && ran is null; i++)
        {
            ran = await scheduler.SweepAsync(CancellationToken.None);
            if (ran is null) await Task.Delay(100);
        }
        Assert.Equal(2, ran);
        Assert.Equal(0, await scheduler.SweepAsync(CancellationToken.None));
        foreach (var user in users)
        {
            Assert.True(await FinishedAsync(tenantId, user));
            Assert.Equal(1L, await ScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND status = 'archived'", tenantId, user));
            // one merge per user: "merged" history on the survivor and on the archived one, never twice
            Assert.Equal(2L, await ScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1 AND user_id = $2 AND event = 'merged'", tenantId, user));
        }
        foreach (var (user, at) in ranBefore)
            Assert.Equal(at, await ScalarAsync<DateTime>("SELECT ran_at FROM lifecycle_state WHERE tenant_id = $1 AND user_id = $2", tenantId, user));
    }

    private async Task<bool> FinishedAsync(Guid tenantId, string user) => await ScalarAsync<bool>("""
        SELECT EXISTS (SELECT 1 FROM lifecycle_state s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
                       WHERE s.tenant_id = $1 AND s.user_id = $2 AND s.version = u.memory_version)
        """, tenantId, user);

    private sealed class SameDatabaseFactory(string connectionString) : ApiFactory(connectionString);

    private async Task<T> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(_connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args) cmd.Parameters.AddWithValue(a);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _service?.Dispose();
        TestDatabase.DropDatabase(_connectionString);
        return Task.CompletedTask;
    }
}
