using System.ComponentModel;
using System.Text.Json;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace MemoryService.Lifecycle;

/// <summary>
/// The memory lifecycle: restore an archived memory, feedback on a memory, a lifecycle run (consolidate, forget,
/// promote) for a user or the tenant's knowledge, and the tenant's lifecycle settings.
/// </summary>
public static class LifecycleApi
{
    public sealed record FeedbackRequest(
        [property: Description("helpful, not_helpful, wrong or outdated.")] string? Signal,
        [property: Description("Optional, at most 1,000 characters; kept in the memory's history.")] string? Comment = null);

    public sealed record RunRequest(
        [property: Description("Any of consolidate, forget, promote; default all three.")] IReadOnlyList<LifecycleStep>? Steps = null,
        [property: Description("Decide and answer, but write nothing. Default false.")] bool? DryRun = null);

    public sealed record LifecycleSettingsResponse(LifecycleSettings Settings, [property: Description("True when the tenant stored no settings.")] bool IsDefault);

    public static IEndpointRouteBuilder MapLifecycle(this IEndpointRouteBuilder app)
    {
        var user = OwnerGroup(app, "/v1/users/{user_id}");
        user.MapPost("/memories/{id:guid}/restore", RestoreForUser).WithName("RestoreMemory")
            .WithSummary("Bring an archived memory back into search and context.");
        user.MapPost("/memories/{id:guid}/feedback", Feedback).WithName("SendMemoryFeedback")
            .WithSummary("Say how a memory served: helpful, not_helpful (ranks lower), wrong or outdated (no longer valid).");
        user.MapPost("/lifecycle/run", RunForUser).WithName("RunUserLifecycle")
            .WithSummary("Consolidate restatements, forget what faded and promote routines for one user, now (or as a dry run).");

        var knowledge = OwnerGroup(app, "/v1/knowledge");
        knowledge.MapPost("/{id:guid}/restore", RestoreKnowledge).WithName("RestoreKnowledge")
            .WithSummary("Bring an archived knowledge item back into search and context.");
        knowledge.MapPost("/lifecycle/run", RunForKnowledge).WithName("RunKnowledgeLifecycle")
            .WithSummary("Consolidate and forget the tenant's knowledge, now (or as a dry run).");

        var settings = app.MapGroup("/v1/settings/lifecycle").WithTags("Lifecycle")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status429TooManyRequests);
        settings.MapGet("", GetSettings).WithName("GetLifecycleSettings")
            .WithSummary("The tenant's lifecycle thresholds and the steps the scheduler runs (the defaults until set).");
        settings.MapPut("", PutSettings).WithName("PutLifecycleSettings")
            .WithSummary("Set the tenant's lifecycle thresholds and automatic steps; fields left out take the defaults.");
        return app;
    }

    private static RouteGroupBuilder OwnerGroup(IEndpointRouteBuilder app, string prefix) => app.MapGroup(prefix).WithTags("Lifecycle")
        .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);

    // ---- restore and feedback ----

    private static Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> RestoreForUser(
        [Description("The client's user id.")] string user_id, Guid id, Caller caller, MemoryFeedback feedback, HttpContext http, CancellationToken ct) =>
        AppUser.Validate(user_id) is null
            ? Restore(new Owner(caller.TenantId, user_id), id, caller, feedback, http, ct)
            : Task.FromResult<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>>(InvalidUser());

    private static Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> RestoreKnowledge(
        Guid id, Caller caller, MemoryFeedback feedback, HttpContext http, CancellationToken ct) =>
        Restore(new Owner(caller.TenantId, null), id, caller, feedback, http, ct);

    private static async Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> Restore(Owner owner, Guid id, Caller caller,
        MemoryFeedback feedback, HttpContext http, CancellationToken ct) =>
        Answer(await feedback.RestoreAsync(owner, id, caller.KeyId.ToString(), ct), http);

    private static async Task<Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult>> Feedback(
        [Description("The client's user id.")] string user_id, Guid id, FeedbackRequest request, Caller caller, MemoryFeedback feedback,
        HttpContext http, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (AppUser.Validate(user_id) is { } userError) MemoryValidation.Add(errors, "user_id", userError);
        var signal = MemoryFeedback.ParseSignal(request.Signal);
        if (signal is null) MemoryValidation.Add(errors, "signal", "One of helpful, not_helpful, wrong, outdated.");
        if (request.Comment is { Length: > 1000 } || request.Comment?.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')) == true)
            MemoryValidation.Add(errors, "comment", "At most 1,000 characters, no control characters but tab and newline.");
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        return Answer(await feedback.ApplyAsync(new Owner(caller.TenantId, user_id), id, signal!.Value, request.Comment,
            caller.KeyId.ToString(), ct), http);
    }

    private static Results<Ok<MemoryResponse>, ValidationProblem, ProblemHttpResult> Answer(
        (MemoryFeedback.Outcome Outcome, Memory? Memory, string? Why) result, HttpContext http)
    {
        var (outcome, memory, why) = result;
        if (outcome == MemoryFeedback.Outcome.NotFound) return TypedResults.Problem(Problems.NotFound("memory"));
        if (outcome == MemoryFeedback.Outcome.Conflict) return TypedResults.Problem(Problems.Conflict(why!));
        http.Response.Headers.ETag = memory!.ETag;
        return TypedResults.Ok(memory.AsResponse());
    }

    // ---- runs ----

    private static Task<Results<Ok<LifecycleReport>, ValidationProblem, ProblemHttpResult>> RunForUser(
        [Description("The client's user id.")] string user_id, RunRequest request, Caller caller, LifecycleRunner runner,
        LifecycleSettingsStore settings, CancellationToken ct) =>
        AppUser.Validate(user_id) is null
            ? Run(new Owner(caller.TenantId, user_id), request, caller, runner, settings, ct)
            : Task.FromResult<Results<Ok<LifecycleReport>, ValidationProblem, ProblemHttpResult>>(InvalidUser());

    private static Task<Results<Ok<LifecycleReport>, ValidationProblem, ProblemHttpResult>> RunForKnowledge(
        RunRequest request, Caller caller, LifecycleRunner runner, LifecycleSettingsStore settings, CancellationToken ct) =>
        Run(new Owner(caller.TenantId, null), request, caller, runner, settings, ct);

    private static async Task<Results<Ok<LifecycleReport>, ValidationProblem, ProblemHttpResult>> Run(Owner owner, RunRequest request,
        Caller caller, LifecycleRunner runner, LifecycleSettingsStore settings, CancellationToken ct)
    {
        if (request.Steps is { Count: 0 or > 3 }) return TypedResults.ValidationProblem(Problems.Field("steps", "Any of consolidate, forget, promote."));
        var steps = (request.Steps ?? [LifecycleStep.Consolidate, LifecycleStep.Forget, LifecycleStep.Promote]).ToHashSet();
        var (tenantSettings, _) = await settings.GetAsync(owner.TenantId, ct);
        var report = await runner.RunAsync(owner, steps, request.DryRun ?? false, tenantSettings, caller.KeyId.ToString(), ct);
        return report is null ? TypedResults.Problem(Problems.NotFound("user")) : TypedResults.Ok(report);
    }

    // ---- settings ----

    private static async Task<Ok<LifecycleSettingsResponse>> GetSettings(Caller caller, LifecycleSettingsStore settings, CancellationToken ct)
    {
        var (current, isDefault) = await settings.GetAsync(caller.TenantId, ct);
        return TypedResults.Ok(new LifecycleSettingsResponse(current, isDefault));
    }

    private static async Task<Results<Ok<LifecycleSettingsResponse>, ValidationProblem>> PutSettings(Caller caller, LifecycleSettingsStore settings,
        HttpContext http, CancellationToken ct)
    {
        var (body, bodyErrors) = await JsonBodies.ReadObjectAsync(http.Request, ct);
        if (body is null) return TypedResults.ValidationProblem(bodyErrors!);
        var fields = settings.Fields;
        var errors = new Dictionary<string, string[]>();
        foreach (var (name, _) in body)
            if (!fields.Contains(name)) MemoryValidation.Add(errors, name, $"Not a lifecycle setting; use {string.Join(", ", fields)}.");
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        LifecycleSettings parsed;
        try
        {
            parsed = settings.Overlay(body);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return TypedResults.ValidationProblem(Problems.Field("body", "A field has the wrong type: " + ex.Message.Split(" Path:")[0]));
        }
        errors = parsed.Validate();
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        await settings.PutAsync(caller.TenantId, body, ct);
        return TypedResults.Ok(new LifecycleSettingsResponse(parsed, false));
    }

    private static ValidationProblem InvalidUser() =>
        TypedResults.ValidationProblem(Problems.Field("user_id", "A user id is 1-128 characters without control characters."));

    public static IHostApplicationBuilder AddLifecycle(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LifecycleOptions>().BindConfiguration("Lifecycle").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<MemoryFeedback>();
        builder.Services.AddScoped<LifecycleRunner>();
        builder.Services.AddScoped<LifecycleSettingsStore>();
        builder.Services.AddSingleton<LifecycleScheduler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LifecycleScheduler>());
        return builder;
    }
}
