using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MemoryService.Data;
using MemoryService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MemoryService.Tests.Foundation;

public sealed class FoundationTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ReadinessReportsReadyOnceMigrated()
    {
        using var client = api.CreateClient();
        var response = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ready", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task UnknownRouteIsProblemJson404()
    {
        using var client = api.CreateClient();
        var response = await client.GetAsync("/no/such/route");
        await AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task WrongMethodIsProblemJson405()
    {
        using var client = api.CreateClient();
        var response = await client.DeleteAsync("/health/live");
        await AssertProblem(response, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task MalformedJsonIsProblemJson400()
    {
        using var tenant = await api.NewTenantAsync();
        var response = await tenant.Http.PostAsync("/v1/users/u1/memories",
            new StringContent("{\"content\": \"unterminated", Encoding.UTF8, "application/json"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("JSON", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task OpenApiDocumentIsOpenApi3WithOperationIdsAndSummaries()
    {
        using var client = api.CreateClient();
        var doc = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.StartsWith("3.", doc.GetProperty("openapi").GetString());
        var operations = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => (Path: p.Name, Method: op.Name, Op: op.Value))).ToList();
        Assert.Contains(operations, o => o.Path == "/v1/users/{user_id}/memories" && o.Method == "post");
        foreach (var (path, method, op) in operations)
        {
            Assert.True(op.TryGetProperty("operationId", out _), $"{method} {path} has no operationId");
            Assert.True(op.TryGetProperty("summary", out _), $"{method} {path} has no summary");
        }
        var ids = operations.Select(o => o.Op.GetProperty("operationId").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        // snake_case schemas, as the API actually speaks
        var memory = doc.GetProperty("components").GetProperty("schemas").GetProperty("MemoryResponse").GetProperty("properties");
        Assert.True(memory.TryGetProperty("observed_at", out _));
    }

    [Fact]
    public async Task ScalarReferenceServesTheSameDocumentAsSwaggerUi()
    {
        using var client = api.CreateClient();

        var page = await client.GetAsync("/scalar");
        var html = await page.Content.ReadAsStringAsync();
        var swaggerUi = await client.GetStringAsync("/swagger/index.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("/scalar/", page.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        // Scalar resolves a source's relative url against the site root (scalar.aspnetcore.js): the Swagger UI document.
        var source = Regex.Match(html, @"""sources"":\[\{""title"":""[^""]*"",""url"":""([^""]+)""\}\]").Groups[1].Value;
        Assert.Equal("openapi/v1.json", source);
        Assert.Contains("\"url\":\"/openapi/v1.json\"", swaggerUi);
        var document = await client.GetFromJsonAsync<JsonElement>("/" + source);
        Assert.Equal("MemoryService API", document.GetProperty("info").GetProperty("title").GetString());
        // Everything the page loads comes from the service itself: the bundled script, no fonts or scripts from a CDN.
        Assert.DoesNotMatch(@"https?://", html);
        Assert.Contains("\"withDefaultFonts\":false", html);
        foreach (var script in Regex.Matches(html, @"<script[^>]+src=""([^""]+)""").Select(m => m.Groups[1].Value))
        {
            var asset = await client.GetAsync("/scalar/" + script);
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        }
        Assert.True((await client.GetByteArrayAsync("/scalar/scalar.js")).Length > 100_000, "the bundled Scalar script");
    }

    [Fact]
    public async Task ReplicasRacingOnAnEmptyDatabaseApplyEachMigrationExactlyOnce()
    {
        // A database no host has touched, so the migrators really race for it.
        var connectionString = TestDatabase.CreateDatabase();
        try
        {
            const int replicas = 6;
            var logs = Enumerable.Range(0, replicas).Select(_ => new AppliedLog()).ToArray();
            var sources = logs.Select(_ => NpgsqlDataSource.Create(connectionString)).ToArray();
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var runs = Enumerable.Range(0, replicas).Select(async i =>
            {
                await gate.Task;
                await new Migrator(sources[i], logs[i]).MigrateAsync(CancellationToken.None);
            }).ToArray();
            gate.SetResult();
            await Task.WhenAll(runs); // throws if any replica failed

            var applied = logs.SelectMany(l => l.Versions).ToList();
            Assert.Equal(Migrator.Migrations.Select(m => m.Version).Order(StringComparer.Ordinal), applied.Order(StringComparer.Ordinal));
            Assert.True(await new Migrator(sources[0], new AppliedLog()).IsUpToDateAsync(CancellationToken.None));
            await using var conn = await sources[0].OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", conn);
            Assert.Equal((long)Migrator.Migrations.Count, (long)(await cmd.ExecuteScalarAsync())!);
            foreach (var table in new[] { "tenants", "api_keys", "users", "memories", "memory_history", "idempotency_records" })
            {
                await using var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", conn);
                exists.Parameters.AddWithValue(table);
                Assert.True((bool)(await exists.ExecuteScalarAsync())!, $"table {table} missing");
            }
            foreach (var source in sources) await source.DisposeAsync();
        }
        finally
        {
            TestDatabase.DropDatabase(connectionString);
        }
    }

    /// <summary>The migrator's log, keeping the versions it says it applied.</summary>
    private sealed class AppliedLog : ILogger<Migrator>
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Versions { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values
                && values.Any(v => v is { Key: "{OriginalFormat}", Value: "Applied migration {Version}" }))
                Versions.Enqueue((string)values.First(v => v.Key == "Version").Value!);
        }
    }

    [Fact]
    public async Task FailingMigrationLeavesSchemaAsItWas()
    {
        _ = api.Services; // host started, schema migrated
        var migrator = api.Services.GetRequiredService<Migrator>();
        var broken = new List<(string, string)> { ("9999_broken", "CREATE TABLE half_done (id int); SELECT 1 / 0;") };
        await Assert.ThrowsAsync<PostgresException>(() => migrator.MigrateAsync(broken, CancellationToken.None));
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'"));
        Assert.Equal(0L, await api.QueryScalarAsync<long>("SELECT count(*) FROM schema_migrations WHERE version = '9999_broken'"));
    }

    internal static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("title", out _));
        Assert.False(problem.ToString().Contains("   at ", StringComparison.Ordinal), "stack trace leaked");
        return problem;
    }
}
