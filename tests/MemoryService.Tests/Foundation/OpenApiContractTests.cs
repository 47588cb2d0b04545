using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Foundation;

/// <summary>
/// The OpenAPI document is a contract clients are generated from: these rules hold over every operation and schema,
/// and the document is checked in (sdk/openapi.json) so that any API change shows up as a diff in review.
/// </summary>
public sealed partial class OpenApiContractTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    /// <summary>Set to 1 to rewrite sdk/openapi.json from the running service (then review the diff).</summary>
    private const string UpdateVariable = "MEMORY_UPDATE_OPENAPI";

    private async Task<JsonElement> DocumentAsync()
    {
        using var client = api.CreateClient();
        return await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
    }

    private static IEnumerable<(string Path, string Method, JsonElement Op)> Operations(JsonElement doc) =>
        doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => (p.Name, op.Name, op.Value)));

    [Fact]
    public async Task EveryResponseHasASchemaAndEveryErrorIsAProblemDetails()
    {
        var doc = await DocumentAsync();
        var failures = new List<string>();
        foreach (var (path, method, op) in Operations(doc))
        {
            var responses = op.GetProperty("responses").EnumerateObject().ToList();
            if (!responses.Any(r => r.Name.StartsWith('2'))) failures.Add($"{method} {path}: no success response");
            foreach (var response in responses)
            {
                if (response.Name == "204") continue;
                if (!response.Value.TryGetProperty("content", out var content) || !content.EnumerateObject().Any())
                {
                    failures.Add($"{method} {path} {response.Name}: no content schema");
                    continue;
                }
                if (response.Name[0] is '4' or '5')
                {
                    if (!content.TryGetProperty("application/problem+json", out var problem)
                        || problem.GetProperty("schema").GetProperty("$ref").GetString() is not ("#/components/schemas/ProblemDetails" or "#/components/schemas/HttpValidationProblemDetails"))
                        failures.Add($"{method} {path} {response.Name}: not a problem+json ProblemDetails");
                }
                else if (content.EnumerateObject().Any(c => !c.Value.TryGetProperty("schema", out _)))
                    failures.Add($"{method} {path} {response.Name}: a media type without a schema");
            }
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task ParametersAreSnakeCaseAndHeadersAreDocumented()
    {
        var doc = await DocumentAsync();
        var failures = new List<string>();
        foreach (var (path, method, op) in Operations(doc))
            foreach (var parameter in op.TryGetProperty("parameters", out var ps) ? ps.EnumerateArray() : Enumerable.Empty<JsonElement>())
            {
                var name = parameter.GetProperty("name").GetString()!;
                var ok = parameter.GetProperty("in").GetString() == "header" ? HeaderName().IsMatch(name) : SnakeCase().IsMatch(name);
                if (!ok) failures.Add($"{method} {path}: parameter '{name}'");
            }
        Assert.True(failures.Count == 0, "parameters not named as the API reads them:\n" + string.Join('\n', failures));

        var byId = Operations(doc).ToDictionary(o => o.Op.GetProperty("operationId").GetString()!, o => o.Op);
        var list = HeaderParameters(byId["ListMemories"], "query");
        Assert.Subset(list, new HashSet<string> { "kind", "key", "tag", "source", "limit", "cursor", "created_after", "include_superseded" });
        foreach (var id in new[] { "UpdateMemory", "DeleteMemory", "UpdateKnowledge", "DeleteKnowledge" })
            Assert.Contains("If-Match", HeaderParameters(byId[id], "header"));
        foreach (var id in new[] { "CreateMemory", "CreateMemoriesBatch", "CreateKnowledge", "CreateKnowledgeBatch" })
            Assert.Contains("Idempotency-Key", HeaderParameters(byId[id], "header"));
        foreach (var (id, status) in new[] { ("GetMemory", "200"), ("UpdateMemory", "200"), ("CreateMemory", "201"), ("GetKnowledge", "200") })
            Assert.True(byId[id].GetProperty("responses").GetProperty(status).TryGetProperty("headers", out var h) && h.TryGetProperty("ETag", out _),
                $"{id} {status} does not document its ETag header");
        foreach (var (path, method, op) in Operations(doc))
            foreach (var response in op.GetProperty("responses").EnumerateObject().Where(r => r.Name is "429" or "503"))
                Assert.True(response.Value.TryGetProperty("headers", out var h) && h.TryGetProperty("Retry-After", out _),
                    $"{method} {path} {response.Name} does not document Retry-After");

        var scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Contains(doc.GetProperty("security").EnumerateArray(), s => s.TryGetProperty("bearer", out _));
    }

    [Fact]
    public async Task ResponseFieldsAreRequiredUnlessNullableAndFormatsAndEnumsAreDeclared()
    {
        var doc = await DocumentAsync();
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var memory = schemas.GetProperty("MemoryResponse");
        var required = Required(memory);
        Assert.Subset(required, new HashSet<string> { "id", "kind", "content", "tags", "importance", "created_at", "version" });
        Assert.DoesNotContain("valid_to", required);
        Assert.False(Nullable(memory.GetProperty("properties").GetProperty("content")), "content is never null");
        Assert.True(Nullable(memory.GetProperty("properties").GetProperty("valid_to")), "valid_to is null while the memory is valid");
        Assert.Equal("uuid", memory.GetProperty("properties").GetProperty("id").GetProperty("format").GetString());
        Assert.Equal("date-time", memory.GetProperty("properties").GetProperty("created_at").GetProperty("format").GetString());
        Assert.Contains("items", Required(schemas.GetProperty("MemoryResponseListResponse")));

        var failures = new List<string>();
        foreach (var schema in schemas.EnumerateObject())
        {
            if (schema.Value.TryGetProperty("enum", out _) && schema.Value.GetProperty("type").GetString() != "string")
                failures.Add($"{schema.Name}: enum is not a string enum");
            if (!schema.Name.EndsWith("Response") || !schema.Value.TryGetProperty("properties", out var properties)) continue;
            var req = Required(schema.Value);
            foreach (var property in properties.EnumerateObject())
                if (!Nullable(property.Value) && !req.Contains(property.Name))
                    failures.Add($"{schema.Name}.{property.Name}: not nullable yet not required");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task TheDocumentMatchesTheCheckedInCopy()
    {
        var served = JsonNode.Parse((await DocumentAsync()).GetRawText())!;
        var text = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        var file = Path.Combine(RepoRoot(), "sdk", "openapi.json");
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, text);
        }
        Assert.True(File.Exists(file), $"{file} is missing: run the tests with {UpdateVariable}=1 to write it");
        var checkedIn = JsonNode.Parse(File.ReadAllText(file))!;
        Assert.True(JsonNode.DeepEquals(checkedIn, served),
            $"The API's OpenAPI document differs from sdk/openapi.json. If the change is intended, run " +
            $"`{UpdateVariable}=1 scripts/test.sh --filter OpenApiContract` and commit the diff.");
    }

    private static HashSet<string> HeaderParameters(JsonElement op, string location) =>
        op.TryGetProperty("parameters", out var ps)
            ? ps.EnumerateArray().Where(p => p.GetProperty("in").GetString() == location).Select(p => p.GetProperty("name").GetString()!).ToHashSet()
            : [];

    private static HashSet<string> Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!).ToHashSet() : [];

    // OpenAPI 3.0: nullable: true, or a $ref (which cannot carry nullable; a nullable reference uses allOf/oneOf).
    private static bool Nullable(JsonElement property) =>
        property.TryGetProperty("nullable", out var n) && n.GetBoolean();

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MemoryService.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("MemoryService.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*$")]
    private static partial Regex SnakeCase();

    [GeneratedRegex("^[A-Z][A-Za-z]*(-[A-Z][A-Za-z]*)*$")]
    private static partial Regex HeaderName();
}
