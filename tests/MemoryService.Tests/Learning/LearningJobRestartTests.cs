using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Learning;

/// <summary>
/// A learning job survives kill -9 of the service: the service runs as a real child process (<c>dotnet MemoryService.dll</c>)
/// whose job is in flight (its extraction call held by the fake model) when it is killed; a fresh host on the same
/// database claims the job once the dead worker's lease has run out, and learns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LearningJobRestartTests : IAsyncLifetime
{
    internal const string AdminKey = "restart-test-admin-key-0123456789abcdef";
    private readonly string _connectionString = TestDatabase.CreateDatabase();
    private FakeOpenAiServer _llm = null!;
    private ServiceProcess? _service;

    [Fact]
    public async Task JobInFlightWhenTheServiceIsKilledRunsAfterRestart()
    {
        // 1. The first service: chat with learn, and its job's extraction call never answered.
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _llm.BeforeChatReply = async (body, ct) =>
        {
            if (!LearningJobsTests.IsExtraction(body)) return null;
            held.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
            return null;
        };
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Memory"] = _connectionString,
            ["Auth__AdminKey"] = AdminKey,
            ["Llm__Provider"] = "openai",
            ["Llm__BaseUrl"] = _llm.BaseUrl.ToString(),
            ["Llm__Model"] = "fake-model",
            ["Llm__MaxRetries"] = "0",
            ["Llm__TimeoutSeconds"] = "60",
            ["Learning__Jobs__TimeoutSeconds"] = "2",
            ["Learning__Jobs__LeaseGraceSeconds"] = "1",
        }, TimeSpan.FromSeconds(60));
        using var http = new HttpClient { BaseAddress = new Uri(_service.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var key = await NewTenantKeyAsync(http);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var chat = await ApiFactory.ReadAsync<JsonElement>(await http.PostAsJsonAsync("/v1/users/survivor/chat",
            new { learn = true, messages = new[] { new { role = "user", content = "I'm vegetarian." } } }));
        var jobId = chat.GetProperty("learning_job_id").GetGuid();
        await held.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // 2. kill -9 with the job running.
        _service.Kill();
        Assert.Equal("running", await ScalarAsync<string>("SELECT status FROM learning_jobs WHERE id = $1", jobId));

        // 3. A fresh host on the same database (built-in rules, no model) takes the job over and learns it.
        await using var fresh = new SameDatabaseFactory(_connectionString);
        fresh.Settings["Learning:Jobs:PollIntervalSeconds"] = "0.2";
        _ = fresh.Server; // start the host and its job runner
        await LearningJobsTests.WaitForAsync(async () =>
            await ScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = 'survivor'", key.TenantId) == 1, seconds: 30);
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM learning_jobs WHERE id = $1", jobId));
        Assert.Contains("vegetarian", await ScalarAsync<string>(
            "SELECT content FROM memories WHERE tenant_id = $1 AND user_id = 'survivor'", key.TenantId), StringComparison.OrdinalIgnoreCase);
    }

    private sealed class SameDatabaseFactory(string connectionString) : ApiFactory(connectionString);

    internal static async Task<(Guid TenantId, string Key)> NewTenantKeyAsync(HttpClient http)
    {
        using var admin = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/tenants") { Content = JsonContent.Create(new { name = "restart" }) };
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        var tenant = await ApiFactory.ReadAsync<JsonElement>(await http.SendAsync(admin));
        var tenantId = tenant.GetProperty("id").GetGuid();
        using var keyRequest = new HttpRequestMessage(HttpMethod.Post, $"/v1/admin/tenants/{tenantId}/keys") { Content = JsonContent.Create(new { name = "k" }) };
        keyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        var key = await ApiFactory.ReadAsync<JsonElement>(await http.SendAsync(keyRequest));
        return (tenantId, key.GetProperty("key").GetString()!);
    }

    private async Task<T> ScalarAsync<T>(string sql, object arg)
    {
        await using var conn = new Npgsql.NpgsqlConnection(_connectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
        cmd.Parameters.AddWithValue(arg);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task InitializeAsync() => _llm = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync()
    {
        _service?.Dispose();
        await _llm.DisposeAsync();
        TestDatabase.DropDatabase(_connectionString);
    }
}
