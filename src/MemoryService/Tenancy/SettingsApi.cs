using System.ComponentModel;
using MemoryService.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace MemoryService.Tenancy;

/// <summary>The calling tenant's own settings (/v1/settings).</summary>
public static class SettingsApi
{
    public sealed record SettingsResponse(
        [property: Description("The OpenAI-compatible proxy learns from every exchange; a request's X-Memory-Learn header still decides for that request.")]
        bool ProxyLearning);

    /// <summary>Fields left out keep their value.</summary>
    public sealed record SettingsPatch(
        [property: Description("Learn from every /v1/openai/chat/completions exchange by default (default false).")] bool? ProxyLearning = null);

    public static IEndpointRouteBuilder MapSettings(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/settings").WithTags("Settings").ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapGet("", Get).WithName("GetSettings").WithSummary("The tenant's settings.");
        group.MapPatch("", Patch).WithName("UpdateSettings").WithSummary("Change the tenant's settings; fields left out keep their value.");
        return app;
    }

    /// <summary>Whether the tenant's proxy learns by default.</summary>
    public static Task<bool> ProxyLearningAsync(MemoryDb db, Guid tenantId, CancellationToken ct) =>
        db.Set<Tenant>().AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.ProxyLearning).FirstOrDefaultAsync(ct);

    private static async Task<Ok<SettingsResponse>> Get(Caller caller, MemoryDb db, CancellationToken ct) =>
        TypedResults.Ok(new SettingsResponse(await ProxyLearningAsync(db, caller.TenantId, ct)));

    private static async Task<Ok<SettingsResponse>> Patch(SettingsPatch request, Caller caller, MemoryDb db, CancellationToken ct)
    {
        if (request.ProxyLearning is { } learning)
            await db.Set<Tenant>().Where(t => t.Id == caller.TenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ProxyLearning, learning), ct);
        return await Get(caller, db, ct);
    }
}
