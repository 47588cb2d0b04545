using System.ComponentModel;
using MemoryService.Data;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace MemoryService.Context;

/// <summary>System-prompt context for a user (/v1/users/{user_id}/context) and the tenant's template (/v1/context/template).</summary>
public static class ContextApi
{
    public const int DefaultTokenBudget = 800;
    public const int MaxTokenBudget = 100_000;

    public sealed record ContextMessage(
        [property: Description("user, assistant or system.")] string? Role,
        [property: Description("The text of the turn.")] string? Content);

    public sealed record ContextRequest(
        [property: Description("What the conversation is about now; 1-2,000 characters. Or give messages.")] string? Query = null,
        [property: Description("The last turns; the latest user turn plus a little of the ones before it become the query.")] IReadOnlyList<ContextMessage>? Messages = null,
        [property: Description("Hard ceiling on the system prompt's tokens, in the configured encoding (Context:Tokenizer, o200k_base by default); default 800.")] int? TokenBudget = null,
        [property: Description("Which of preferences, memories, knowledge, events, people to include; default all but people.")] IReadOnlyList<string>? Sections = null,
        [property: Description("text (default), markdown or json: how the sections are written.")] ContextFormat? Format = null,
        [property: Description("A wrapper for this request only, with {{preferences}}, {{memories}}, {{knowledge}}, {{events}}, {{people}}.")] string? Template = null);

    public sealed record ContextItemResponse(
        [property: Description("The memory's id, or in the people section the entity's.")] Guid Id,
        [property: Description("The memory's kind (preference, fact, event, knowledge); null in the people section.")] string? Kind,
        string Content, string? Date, double Score);

    public sealed record ContextSectionResponse(string Name, IReadOnlyList<ContextItemResponse> Items);

    public sealed record UsedMemory(Guid Id, MemoryKind Kind, double Score, string Section);

    public sealed record DroppedMemory(Guid Id, MemoryKind Kind, double Score, string Section, string Content);

    public sealed record ContextResponse(string SystemPrompt, int TokenCount, int TokenBudget, ContextFormat Format,
        IReadOnlyList<ContextSectionResponse> Sections, IReadOnlyList<UsedMemory> Memories,
        [property: Description("Candidates gathered for the prompt that did not fit the token budget, most valuable first.")] IReadOnlyList<DroppedMemory> Dropped);

    public sealed record TemplateRequest([property: Description("The wrapper text with placeholders; at most 8,000 characters.")] string? Template);

    public sealed record TemplateResponse(string Template, bool IsDefault);

    public static IHostApplicationBuilder AddContext(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ContextOptions>().BindConfiguration("Context").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ContextOptions>>().Value.CreateTokenCounter());
        builder.Services.AddScoped<ContextBuilder>();
        return builder;
    }

    public static IEndpointRouteBuilder MapContext(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/users/{user_id}/context", Build).WithTags("Context")
            .WithName("BuildContext").WithSummary("Build a system prompt from the user's memories within a token budget.")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status503ServiceUnavailable);

        var template = app.MapGroup("/v1/context/template").WithTags("Context").ProducesProblem(StatusCodes.Status401Unauthorized);
        template.MapGet("", GetTemplate).WithName("GetContextTemplate").WithSummary("The tenant's system-prompt template (or the default).");
        template.MapPut("", PutTemplate).WithName("SetContextTemplate").WithSummary("Store the tenant's system-prompt template.");
        template.MapDelete("", DeleteTemplate).WithName("ResetContextTemplate").WithSummary("Go back to the default template.");
        return app;
    }

    internal static async Task<Results<Ok<ContextResponse>, ValidationProblem, ProblemHttpResult>> Build(
        [Description("The client's user id.")] string user_id, ContextRequest request, Caller caller, ContextBuilder builder, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (AppUser.Validate(user_id) is { } userError) MemoryValidation.Add(errors, "user_id", userError);
        var spec = await ValidateAsync(new Owner(caller.TenantId, user_id), request, builder, errors, ct);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var built = await builder.BuildAsync(spec!, ct);
        if (built is null) return TypedResults.Problem(TooSmall(spec!, builder));
        return TypedResults.Ok(AsResponse(built, spec!));
    }

    /// <summary>Turns a request into a build spec, or adds every field that is wrong to <paramref name="errors"/>.</summary>
    public static async Task<ContextSpec?> ValidateAsync(Owner owner, ContextRequest r, ContextBuilder builder,
        Dictionary<string, string[]> errors, CancellationToken ct)
    {
        if (r.Query is not null && (string.IsNullOrWhiteSpace(r.Query) || r.Query.Length > 2000))
            MemoryValidation.Add(errors, "query", "1-2,000 characters, not blank.");
        var turns = ValidateMessages(r.Messages, "messages", errors);
        if (r.TokenBudget is < 1 or > MaxTokenBudget) MemoryValidation.Add(errors, "token_budget", $"Between 1 and {MaxTokenBudget}.");
        var sections = new HashSet<ContextSection>();
        foreach (var name in r.Sections ?? ContextSections.Default.Select(ContextSections.Name).ToList())
        {
            if (name is null || !ContextSections.TryParse(name, out var section))
                MemoryValidation.Add(errors, "sections", $"Unknown section '{name}'; use {string.Join(", ", ContextSections.All.Select(ContextSections.Name))}.");
            else sections.Add(section);
        }
        ContextTemplate? template = null;
        if (r.Template is not null && (template = ContextTemplate.Parse(r.Template, out var templateError)) is null)
            MemoryValidation.Add(errors, "template", templateError!);
        if (errors.Count > 0) return null;

        template ??= await builder.TenantTemplateAsync(owner.TenantId, ct);
        var query = r.Query ?? (turns is null ? null : ContextBuilder.QueryFrom(turns));
        return new ContextSpec(owner, query, r.TokenBudget ?? DefaultTokenBudget, sections, r.Format ?? ContextFormat.Text, template);
    }

    /// <summary>Checks conversation turns (shared with chat); null when there are none.</summary>
    public static List<(string Role, string Content)>? ValidateMessages(IReadOnlyList<ContextMessage>? messages, string field,
        Dictionary<string, string[]> errors)
    {
        if (messages is null) return null;
        if (messages.Count > 1000) MemoryValidation.Add(errors, field, "At most 1,000 messages.");
        var turns = new List<(string, string)>();
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is null) { MemoryValidation.Add(errors, $"{field}[{i}]", "Must be an object."); continue; }
            if (m.Role is not ("user" or "assistant" or "system")) MemoryValidation.Add(errors, $"{field}[{i}].role", "user, assistant or system.");
            if (m.Content is null) MemoryValidation.Add(errors, $"{field}[{i}].content", "Required.");
            else if (m.Content.Length > 100_000) MemoryValidation.Add(errors, $"{field}[{i}].content", "At most 100,000 characters.");
            turns.Add((m.Role ?? "", m.Content ?? ""));
        }
        return turns;
    }

    public static Microsoft.AspNetCore.Mvc.ProblemDetails TooSmall(ContextSpec spec, ContextBuilder builder) => Problems.Unprocessable(
        $"token_budget {spec.TokenBudget} is below the template's own size ({builder.MinimumTokens(spec.Template)} tokens with every section empty); " +
        "raise the budget or shorten the template.");

    public static ContextResponse AsResponse(BuiltContext built, ContextSpec spec) => new(
        built.SystemPrompt, built.TokenCount, spec.TokenBudget, spec.Format,
        ContextSections.All.Where(spec.Sections.Contains).Select(s => new ContextSectionResponse(ContextSections.Name(s),
            built.Items.Where(i => i.Section == s).Select(i => new ContextItemResponse(i.Id, i.Memory is { } m ? System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(m.Kind.ToString()) : null, i.Memory?.Content ?? i.Line[2..], i.Date,
                Math.Round(i.Score, 6))).ToList())).ToList(),
        built.Memories.Select(i => new UsedMemory(i.Memory!.Id, i.Memory.Kind, Math.Round(i.Score, 6), ContextSections.Name(i.Section))).ToList(),
        built.Dropped.Where(i => i.Memory is not null).Select(i => new DroppedMemory(i.Memory!.Id, i.Memory.Kind, Math.Round(i.Score, 6), ContextSections.Name(i.Section),
            i.Memory.Content)).ToList());

    private static async Task<Ok<TemplateResponse>> GetTemplate(Caller caller, MemoryDb db, CancellationToken ct)
    {
        var stored = await db.Set<Tenant>().AsNoTracking().Where(t => t.Id == caller.TenantId).Select(t => t.ContextTemplate).FirstOrDefaultAsync(ct);
        return TypedResults.Ok(new TemplateResponse(stored ?? ContextTemplate.Default, stored is null));
    }

    private static async Task<Results<Ok<TemplateResponse>, ValidationProblem>> PutTemplate(TemplateRequest request, Caller caller, MemoryDb db,
        CancellationToken ct)
    {
        if (ContextTemplate.Parse(request.Template, out var error) is null)
            return TypedResults.ValidationProblem(Problems.Field("template", error!));
        await db.Set<Tenant>().Where(t => t.Id == caller.TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ContextTemplate, request.Template), ct);
        return TypedResults.Ok(new TemplateResponse(request.Template!, false));
    }

    private static async Task<NoContent> DeleteTemplate(Caller caller, MemoryDb db, CancellationToken ct)
    {
        await db.Set<Tenant>().Where(t => t.Id == caller.TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ContextTemplate, (string?)null), ct);
        return TypedResults.NoContent();
    }
}
