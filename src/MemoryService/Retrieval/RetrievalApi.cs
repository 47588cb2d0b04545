using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Embeddings;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace MemoryService.Retrieval;

public static class RetrievalApi
{
    public sealed record SearchRequest(
        [property: Description("What to look for, in natural language. 1-2,000 characters.")] string? Query,
        [property: Description("1-100, default 10.")] int? Limit = null,
        [property: Description("Only these kinds.")] MemoryKind[]? Kinds = null,
        [property: Description("Only memories carrying at least one of these tags.")] string[]? Tags = null,
        [property: Description("Only memories with this key.")] string? Key = null,
        [property: Description("Metadata filters: {\"field\": value} for equality, {\"field\": {\"in\": [v1, v2]}} for any of.")] JsonObject? Metadata = null,
        [property: Description("Also search the tenant's app knowledge (default true).")] bool? IncludeKnowledge = null,
        [property: Description("Drop results scoring below this (0..1).")] double? MinScore = null,
        [property: Description("Return each ranking signal with the score.")] bool? Explain = null,
        [property: Description("Override the configured ranking weights for this request.")] RankingWeights? Weights = null,
        [property: Description("Override the recency half-life in days.")] double? RecencyHalfLifeDays = null);

    public sealed record SearchHit(MemoryResponse Memory, double Score, ScoreParts? Explain);

    public sealed record SearchResponse(IReadOnlyList<SearchHit> Items, string? NextCursor = null);

    public static IEndpointRouteBuilder MapRetrieval(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/users/{user_id}/memories/search", SearchUser).WithTags("Search")
            .WithName("SearchMemories").WithSummary("Rank the user's current memories (and app knowledge) for a query.")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/v1/knowledge/search", SearchKnowledge).WithTags("Search")
            .WithName("SearchKnowledge").WithSummary("Rank the tenant's app knowledge for a query.")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable);
        app.MapEmbeddingStatus();
        return app;
    }

    private static Task<Results<Ok<SearchResponse>, ValidationProblem>> SearchUser(string user_id, SearchRequest request, Caller caller,
        SearchPipeline pipeline, CancellationToken ct)
    {
        if (AppUser.Validate(user_id) is { } error)
            return Task.FromResult<Results<Ok<SearchResponse>, ValidationProblem>>(TypedResults.ValidationProblem(Problems.Field("user_id", error)));
        return Search(new Owner(caller.TenantId, user_id), request, pipeline, ct);
    }

    private static Task<Results<Ok<SearchResponse>, ValidationProblem>> SearchKnowledge(SearchRequest request, Caller caller,
        SearchPipeline pipeline, CancellationToken ct) =>
        Search(new Owner(caller.TenantId, null), request, pipeline, ct);

    /// <summary>Validates and runs a search for the owner (REST and MCP).</summary>
    internal static async Task<Results<Ok<SearchResponse>, ValidationProblem>> Search(Owner owner, SearchRequest r, SearchPipeline pipeline,
        CancellationToken ct)
    {
        var (query, errors) = Validate(r);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var hits = await pipeline.SearchAsync(owner, query!, ct);
        var explain = r.Explain == true;
        return TypedResults.Ok(new SearchResponse(hits.Select(h =>
            new SearchHit(h.Memory.AsResponse(), Math.Round(h.Score, 6), explain ? Round(h.Parts) : null)).ToList()));
    }

    private static ScoreParts Round(ScoreParts p) => new(Math.Round(p.Similarity, 6), Math.Round(p.Keyword, 6),
        Math.Round(p.Recency, 6), Math.Round(p.Importance, 6), Math.Round(p.Activation, 6), Math.Round(p.Context, 6),
        Math.Round(p.Graph, 6), p.GraphPath);

    /// <summary>Turns a request into a query, or names every field that is wrong.</summary>
    public static (SearchQuery? Query, Dictionary<string, string[]> Errors) Validate(SearchRequest r)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(r.Query)) MemoryValidation.Add(errors, "query", "Required, and not blank.");
        else if (r.Query.Length > 2000) MemoryValidation.Add(errors, "query", "At most 2,000 characters.");
        if (r.Limit is < 1 or > 100) MemoryValidation.Add(errors, "limit", "Between 1 and 100.");
        MemoryValidation.Unit(r.MinScore, "min_score", errors);
        if (r.RecencyHalfLifeDays is { } h && (double.IsNaN(h) || h <= 0)) MemoryValidation.Add(errors, "recency_half_life_days", "Must be positive.");
        if (r.Weights is { } w && new[] { w.Similarity, w.Keyword, w.Recency, w.Importance, w.Activation, w.Context, w.Graph }.Any(x => double.IsNaN(x) || x < 0 || x > 1000))
            MemoryValidation.Add(errors, "weights", "Each weight is a number from 0 to 1000.");
        if (r.Tags is { } tags && (tags.Length > 50 || tags.Any(string.IsNullOrEmpty))) MemoryValidation.Add(errors, "tags", "At most 50 non-empty tags.");

        JsonObject? equals = null;
        Dictionary<string, JsonArray>? anyOf = null;
        foreach (var (field, value) in r.Metadata ?? [])
        {
            if (value is JsonObject op)
            {
                if (op.Count == 1 && op["in"] is JsonArray list && list.Count is > 0 and <= 100)
                    (anyOf ??= [])[field] = list;
                else
                    MemoryValidation.Add(errors, $"metadata.{field}", "Use a value for equality or {\"in\": [1-100 values]}.");
            }
            else
            {
                (equals ??= [])[field] = value?.DeepClone();
            }
        }
        if (errors.Count > 0) return (null, errors);
        return (new SearchQuery(r.Query!.Trim(), r.Limit ?? 10, r.Kinds, r.Tags, r.Key, equals, anyOf,
            r.IncludeKnowledge ?? true, r.MinScore ?? 0, r.Weights, r.RecencyHalfLifeDays), errors);
    }
}

public static class RetrievalExtensions
{
    public static IHostApplicationBuilder AddRetrieval(this IHostApplicationBuilder builder)
    {
        // The embedding model's defaults first, so keys set in configuration override them.
        builder.Services.AddOptions<RetrievalOptions>()
            .Configure<IOptions<EmbeddingsOptions>>((o, e) => EmbeddingProfile.For(e.Value).ApplyTo(o))
            .BindConfiguration("Retrieval").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<MemoryIndex>();
        builder.Services.AddScoped<SearchPipeline>();
        builder.Services.AddSingleton<AccessTracker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AccessTracker>());
        builder.Services.AddSingleton<Reembedder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Reembedder>());
        return builder;
    }
}
