using System.ComponentModel;
using MemoryService.Data;
using MemoryService.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace MemoryService.Tenancy;

public static class AdminApi
{
    public sealed record CreateTenantRequest([property: Description("Unique tenant name, 1-100 characters.")] string Name);
    public sealed record CreateKeyRequest([property: Description("A label for the key.")] string? Name = null);

    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin").WithTags("Admin").ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound);
        group.MapPost("/tenants", CreateTenant).WithName("CreateTenant").WithSummary("Create a tenant (admin key).");
        group.MapGet("/tenants", ListTenants).WithName("ListTenants").WithSummary("List tenants (admin key).");
        group.MapPost("/tenants/{tenant_id:guid}/keys", CreateKey).WithName("CreateApiKey")
            .WithSummary("Create an API key for a tenant; the response's `key` is the only time it is shown.");
        group.MapGet("/tenants/{tenant_id:guid}/keys", ListKeys).WithName("ListApiKeys").WithSummary("List a tenant's keys (never the keys themselves).");
        group.MapDelete("/tenants/{tenant_id:guid}/keys/{key_id:guid}", RevokeKey).WithName("RevokeApiKey")
            .WithSummary("Revoke an API key; calls with it get 401 from then on.");
        return group;
    }

    private static async Task<Results<Created<TenantResponse>, ValidationProblem, ProblemHttpResult>> CreateTenant(
        CreateTenantRequest request, MemoryDb db, TimeProvider clock, CancellationToken ct)
    {
        var name = request.Name?.Trim() ?? "";
        if (name.Length is 0 or > 100 || name.Any(char.IsControl))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["Must be 1-100 characters without control characters."] });
        if (await db.Set<Tenant>().AnyAsync(t => t.Name == name, ct))
            return TypedResults.Problem(Problems.Conflict($"A tenant named '{name}' exists."));
        var tenant = new Tenant { Id = Guid.CreateVersion7(), Name = name, CreatedAt = clock.GetUtcNow() };
        db.Add(tenant);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another request created the name between the check above and this insert: the same answer as the check's.
            return TypedResults.Problem(Problems.Conflict($"A tenant named '{name}' exists."));
        }
        return TypedResults.Created($"/v1/admin/tenants/{tenant.Id}", tenant.AsResponse());
    }

    private static async Task<Ok<ListResponse<TenantResponse>>> ListTenants(MemoryDb db, CancellationToken ct)
    {
        var tenants = await db.Set<Tenant>().AsNoTracking().OrderBy(t => t.Name).ToListAsync(ct);
        return TypedResults.Ok(new ListResponse<TenantResponse>(tenants.Select(t => t.AsResponse()).ToList(), null));
    }

    private static async Task<Results<Created<CreatedApiKeyResponse>, ProblemHttpResult>> CreateKey(
        [Description("The tenant's id.")] Guid tenant_id, CreateKeyRequest? request, MemoryDb db, ApiKeys keys, CancellationToken ct)
    {
        if (!await db.Set<Tenant>().AnyAsync(t => t.Id == tenant_id, ct)) return TypedResults.Problem(Problems.NotFound("tenant"));
        var created = await keys.CreateAsync(db, tenant_id, request?.Name, ct);
        return TypedResults.Created($"/v1/admin/tenants/{tenant_id}/keys/{created.Id}", created);
    }

    private static async Task<Results<Ok<ListResponse<ApiKeyResponse>>, ProblemHttpResult>> ListKeys(
        Guid tenant_id, MemoryDb db, CancellationToken ct)
    {
        if (!await db.Set<Tenant>().AnyAsync(t => t.Id == tenant_id, ct)) return TypedResults.Problem(Problems.NotFound("tenant"));
        var list = await db.Set<ApiKey>().AsNoTracking().Where(k => k.TenantId == tenant_id).OrderBy(k => k.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(new ListResponse<ApiKeyResponse>(list.Select(k => k.AsResponse()).ToList(), null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        Guid tenant_id, Guid key_id, MemoryDb db, ApiKeys keys, TimeProvider clock, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var found = await db.Set<ApiKey>().Where(k => k.TenantId == tenant_id && k.Id == key_id)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, k => k.RevokedAt ?? now), ct);
        if (found == 0) return TypedResults.Problem(Problems.NotFound("API key"));
        keys.Invalidate();
        return TypedResults.NoContent();
    }
}
