using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Retrieval;

/// <summary>The openai provider at a given dimension count, on a database that may already hold another generation's data.</summary>
public sealed class OpenAiGeneration(string? connectionString, Uri server, int dimensions) : ApiFactory(connectionString)
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        Settings["Embeddings:Provider"] = "openai";
        Settings["Embeddings:BaseUrl"] = server.ToString();
        Settings["Embeddings:Model"] = "fake-embedder";
        Settings["Embeddings:Dimensions"] = dimensions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Settings["Embeddings:MaxRetries"] = "0";
        base.ConfigureWebHost(builder);
    }
}

public sealed class ModelIdentityTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ChangingDimensionsReembedsInTheBackgroundAndSearchNeverComparesSpaces()
    {
        // 1. a generation at 64 dimensions stores memories
        await using var first = new OpenAiGeneration(null, _server.BaseUrl, 64);
        using var t = await first.NewTenantAsync();
        foreach (var content in new[] { "Prefers green tea in the morning", "Flies to Rome next Friday", "Owns a red bicycle" })
            Assert.Equal(HttpStatusCode.Created, (await t.Http.PostAsJsonAsync("/v1/users/u/memories", new { content }, ApiFactory.Json)).StatusCode);
        var key = t.Http.DefaultRequestHeaders.Authorization!;

        // 2. the next generation asks for 32: another vector space, so another model id
        await using var second = new OpenAiGeneration(first.ConnectionString, _server.BaseUrl, 32);
        using var http = second.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(key.Scheme, key.Parameter);

        // search works while (and after) the old vectors are replaced: never PostgreSQL's "different vector dimensions"
        for (var i = 0; i < 3; i++)
        {
            var search = await http.PostAsJsonAsync("/v1/users/u/memories/search", new { query = "green tea" }, ApiFactory.Json);
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
            var found = await ApiFactory.ReadAsync<JsonElement>(search);
            Assert.Contains(found.GetProperty("items").EnumerateArray(), r => r.GetProperty("memory").GetProperty("content").GetString()!.Contains("tea"));
        }

        // 3. the background worker brings every row to the new space
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement status;
        do
        {
            status = await ApiFactory.ReadAsync<JsonElement>(await http.GetAsync("/v1/embeddings/status"));
            if (status.GetProperty("pending").GetInt64() == 0) break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal("openai:fake-embedder:32", status.GetProperty("model").GetString());
        Assert.Equal(0, status.GetProperty("pending").GetInt64());
        Assert.Equal(3L, await second.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND embedding_model = 'openai:fake-embedder:32' AND vector_dims(embedding) = 32", t.TenantId));

        var after = await http.PostAsJsonAsync("/v1/users/u/memories/search", new { query = "Owns a red bicycle" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
