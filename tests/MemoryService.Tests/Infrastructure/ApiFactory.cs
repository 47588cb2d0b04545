using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// The service under test over HTTP, on a database of its own. Every override lives here; a test class
/// takes it as IClassFixture and may add settings through <see cref="Settings"/> before first use.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string AdminKey = "test-admin-key-0123456789abcdefghij";
    public static readonly JsonSerializerOptions Json = CreateJson();

    private readonly bool _ownsDatabase;

    public ApiFactory() : this(null) { }

    /// <summary>A factory on an existing database (a second service generation over the same data); it does not drop it.</summary>
    protected ApiFactory(string? connectionString)
    {
        _ownsDatabase = connectionString is null;
        ConnectionString = connectionString ?? TestDatabase.CreateDatabase();
    }

    public string ConnectionString { get; }

    /// <summary>Extra configuration, applied when the host starts.</summary>
    public Dictionary<string, string?> Settings { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Memory", ConnectionString);
        builder.UseSetting("Auth:AdminKey", AdminKey);
        builder.UseSetting("RateLimit:PermitsPerSecond", "100000");
        builder.UseSetting("RateLimit:Burst", "100000");
        builder.UseSetting("RateLimit:AdminPermitsPerSecond", "100000");
        builder.UseSetting("RateLimit:AdminBurst", "100000");
        builder.UseSetting("Auth:FailedAttemptsBurst", "100000");
        foreach (var (k, v) in Settings) builder.UseSetting(k, v);
    }

    public HttpClient Admin()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    /// <summary>A new tenant and a client authorised with its first key.</summary>
    public async Task<TenantClient> NewTenantAsync(string? name = null)
    {
        using var admin = Admin();
        var tenant = await ReadAsync<JsonElement>(await admin.PostAsJsonAsync("/v1/admin/tenants",
            new { name = name ?? "tenant-" + Guid.NewGuid().ToString("N")[..8] }, Json));
        var tenantId = tenant.GetProperty("id").GetString()!;
        var key = await ReadAsync<JsonElement>(await admin.PostAsJsonAsync($"/v1/admin/tenants/{tenantId}/keys", new { name = "test" }, Json));
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.GetProperty("key").GetString());
        return new TenantClient(client, Guid.Parse(tenantId), Guid.Parse(key.GetProperty("id").GetString()!));
    }

    public async Task<T> QueryScalarAsync<T>(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args) cmd.Parameters.AddWithValue(a);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<T>(Json))!;
    }

    /// <summary>
    /// Polls /v1/embeddings/status until the background worker has embedded every memory of the client's tenant
    /// (or the time is up); returns the last status.
    /// </summary>
    public static async Task<JsonElement> WaitForEmbeddingsAsync(HttpClient tenant, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonElement status;
        do
        {
            status = await ReadAsync<JsonElement>(await tenant.GetAsync("/v1/embeddings/status"));
            if (status.GetProperty("pending").GetInt64() == 0) break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        return status;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_ownsDatabase) TestDatabase.DropDatabase(ConnectionString);
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(o);
        o.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        return o;
    }
}

public sealed record TenantClient(HttpClient Http, Guid TenantId, Guid KeyId) : IDisposable
{
    public void Dispose() => Http.Dispose();
}
