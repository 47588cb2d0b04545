using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using MemoryService.Tests.Learning;

namespace MemoryService.Tests.Webhooks;

/// <summary>
/// An event survives kill -9 of the service: the service runs as a real child process (<c>dotnet MemoryService.dll</c>),
/// its first attempt at the event fails (the receiver is down), it is killed, and the service started again on the same
/// database delivers the event, with the same webhook-id, once the receiver is back.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class WebhookRestartTests : IAsyncLifetime
{
    private readonly string _connectionString = TestDatabase.CreateDatabase();
    private WebhookReceiver _receiver = null!;
    private ServiceProcess? _service;

    [Fact]
    public async Task EventQueuedBeforeKillMinus9IsDeliveredAfterRestart()
    {
        // 1. The receiver is down; the service records the event and its first attempt fails.
        _receiver.IsDown = true;
        _service = await StartAsync();
        string secret;
        using (var http = await ClientAsync(_service))
        {
            secret = (await ApiFactory.ReadAsync<JsonElement>(await http.PostAsJsonAsync("/v1/webhooks",
                new { url = _receiver.Url("/restart"), events = new[] { "memory.created" } }))).GetProperty("secret").GetString()!;
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/v1/users/survivor/memories", new { content = "Speaks Basque" })).StatusCode);
        }
        await WaitForAsync(() => _receiver.At("/restart").Count >= 1);

        // 2. kill -9 with the event undelivered.
        _service.Kill();
        Assert.All(_receiver.At("/restart"), r => Assert.Equal(503, r.AnsweredWith));
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'running')"));

        // 3. The receiver is back and the service starts again on the same database: the event arrives, same id, signed.
        _receiver.IsDown = false;
        _service.Dispose();
        _service = await StartAsync();
        var delivered = Assert.Single(await _receiver.WaitForDeliveredAsync("/restart", 1, seconds: 30));
        Assert.Equal(_receiver.At("/restart")[0].Id, delivered.Id);
        Assert.True(WebhookReceiver.Verifies(delivered, secret));
        Assert.Equal("Speaks Basque", delivered.Json.GetProperty("data").GetProperty("content").GetString());
        await WaitForAsync(async () => await ScalarAsync("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'") == 1);
    }

    private Task<ServiceProcess> StartAsync() => ServiceProcess.StartAsync(new Dictionary<string, string?>
    {
        ["ConnectionStrings__Memory"] = _connectionString,
        ["Auth__AdminKey"] = LearningJobRestartTests.AdminKey,
        ["Webhooks__AllowPrivateNetworks"] = "true",
        ["Webhooks__PollIntervalSeconds"] = "0.2",
        ["Webhooks__RetryDelaySeconds"] = "1",
        ["Webhooks__MaxRetryDelaySeconds"] = "1",
    }, TimeSpan.FromSeconds(60));

    private static async Task<HttpClient> ClientAsync(ServiceProcess service)
    {
        var http = new HttpClient { BaseAddress = new Uri(service.BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        var key = await LearningJobRestartTests.NewTenantKeyAsync(http);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        return http;
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var conn = new Npgsql.NpgsqlConnection(_connectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static Task WaitForAsync(Func<bool> done) => WaitForAsync(() => Task.FromResult(done()));

    private static async Task WaitForAsync(Func<Task<bool>> done)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await done()) return;
            await Task.Delay(100);
        }
        Assert.Fail("Timed out waiting.");
    }

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        _service?.Dispose();
        await _receiver.DisposeAsync();
        TestDatabase.DropDatabase(_connectionString);
    }
}
