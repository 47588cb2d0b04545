using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Memories;

/// <summary>The concurrency guarantees docs/api.md promises, each raced for real over HTTP.</summary>
public sealed class ConcurrencyTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static StringContent JsonBody(object body) =>
        new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    /// <summary>Starts every call at once (behind one gate), so they really overlap.</summary>
    private static async Task<T[]> Together<T>(int count, Func<int, Task<T>> call)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count).Select(async i =>
        {
            await gate.Task;
            return await call(i);
        }).ToArray();
        gate.SetResult();
        return await Task.WhenAll(tasks);
    }

    private static async Task<(HttpStatusCode Status, string Body)> Send(HttpClient client, Func<HttpRequestMessage> request)
    {
        using var message = request();
        using var response = await client.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TwentyConcurrentCreatesWithOneIdempotencyKeyStoreOneMemoryAndAnswerAlike()
    {
        using var t = await api.NewTenantAsync();
        var body = new { content = "Prefers window seats", kind = "preference", tags = new[] { "travel" } };

        var responses = await Together(20, _ => Send(t.Http, () =>
        {
            var m = new HttpRequestMessage(HttpMethod.Post, "/v1/users/ada/memories") { Content = JsonBody(body) };
            m.Headers.Add("Idempotency-Key", "create-once");
            return m;
        }));

        Assert.All(responses, r => Assert.True(r.Status == HttpStatusCode.Created, $"{(int)r.Status}: {r.Body}"));
        Assert.Single(responses.Select(r => r.Body).Distinct());
        Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", t.TenantId));
        Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM memory_history WHERE tenant_id = $1", t.TenantId));
    }

    [Fact]
    public async Task TenConcurrentPatchesWithOneIfMatchGiveOneSuccessAndNinePreconditionFailures()
    {
        using var t = await api.NewTenantAsync();
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/bo/memories", JsonBody(new { content = "Lives in Oslo" })));
        var id = created.GetProperty("id").GetString();

        var responses = await Together(10, i => Send(t.Http, () =>
        {
            var m = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/bo/memories/{id}") { Content = JsonBody(new { content = $"Lives in city {i}" }) };
            m.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            return m;
        }));

        var statuses = responses.Select(r => r.Status).ToList();
        Assert.True(statuses.Count(s => s == HttpStatusCode.OK) == 1 && statuses.Count(s => s == HttpStatusCode.PreconditionFailed) == 9,
            string.Join(", ", responses.Select(r => $"{(int)r.Status}")));
        var winner = JsonDocument.Parse(responses.Single(r => r.Status == HttpStatusCode.OK).Body).RootElement;
        var stored = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/bo/memories/{id}"));
        Assert.Equal(winner.GetProperty("content").GetString(), stored.GetProperty("content").GetString());
        Assert.Equal(2, stored.GetProperty("version").GetInt32());
        Assert.Equal(1L, await api.QueryScalarAsync<long>(
            "SELECT count(*) FROM memory_history WHERE tenant_id = $1 AND event = 'updated'", t.TenantId));
    }

    [Fact]
    public async Task IfMatchUsesStrongComparisonSoAWeakTagNeverMatches()
    {
        using var t = await api.NewTenantAsync();
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/cy/memories", JsonBody(new { content = "Drinks oat milk" })));
        var id = created.GetProperty("id").GetString();
        HttpRequestMessage Conditional(HttpMethod method, string ifMatch)
        {
            var m = new HttpRequestMessage(method, $"/v1/users/cy/memories/{id}");
            if (method == HttpMethod.Patch) m.Content = JsonBody(new { content = "Drinks soy milk" });
            m.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            return m;
        }

        var weakPatch = await t.Http.SendAsync(Conditional(HttpMethod.Patch, "W/\"1\""));
        var weakDelete = await t.Http.SendAsync(Conditional(HttpMethod.Delete, "W/\"1\""));
        var unchanged = await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync($"/v1/users/cy/memories/{id}"));
        var strongPatch = await t.Http.SendAsync(Conditional(HttpMethod.Patch, "\"1\""));

        Assert.Equal(HttpStatusCode.PreconditionFailed, weakPatch.StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, weakDelete.StatusCode);
        Assert.Equal("Drinks oat milk", unchanged.GetProperty("content").GetString());
        Assert.Equal(1, unchanged.GetProperty("version").GetInt32());
        Assert.Equal(HttpStatusCode.OK, strongPatch.StatusCode);
        Assert.Equal("\"2\"", strongPatch.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task ConcurrentCreationsOfOneTenantNameGiveOneCreatedAndConflictsNeverAServerError()
    {
        using var admin = api.Admin();
        // Several rounds, each racing creators of one fresh name: one round may miss the window, all of them rarely do.
        for (var round = 0; round < 5; round++)
        {
            var name = "race-" + Guid.NewGuid().ToString("N")[..8];
            var responses = await Together(2 + round, _ => Send(admin, () =>
                new HttpRequestMessage(HttpMethod.Post, "/v1/admin/tenants") { Content = JsonBody(new { name }) }));

            var statuses = responses.Select(r => r.Status).ToList();
            Assert.True(statuses.Count(s => s == HttpStatusCode.Created) == 1 && statuses.Count(s => s == HttpStatusCode.Conflict) == statuses.Count - 1,
                string.Join(" | ", responses.Select(r => $"{(int)r.Status} {r.Body}")));
            Assert.Equal(1L, await api.QueryScalarAsync<long>("SELECT count(*) FROM tenants WHERE name = $1", name));
        }
    }
}
