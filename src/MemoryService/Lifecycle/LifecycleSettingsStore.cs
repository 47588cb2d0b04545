using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace MemoryService.Lifecycle;

/// <summary>A tenant's lifecycle settings: the fields it stored over the configured defaults.</summary>
public sealed class LifecycleSettingsStore(MemoryDb db, IOptions<LifecycleOptions> options,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider clock)
{
    private JsonSerializerOptions Json => json.Value.SerializerOptions;

    public async Task<(LifecycleSettings Settings, bool IsDefault)> GetAsync(Guid tenantId, CancellationToken ct)
    {
        var stored = await db.Database.SqlQuery<string>($"SELECT settings::text AS \"Value\" FROM lifecycle_settings WHERE tenant_id = {tenantId}")
            .FirstOrDefaultAsync(ct);
        return stored is null ? (options.Value.Defaults, true) : (Overlay(JsonNode.Parse(stored)!.AsObject()), false);
    }

    /// <summary>The defaults with the given fields set; throws JsonException when a field has the wrong type.</summary>
    public LifecycleSettings Overlay(JsonObject fields)
    {
        var merged = JsonSerializer.SerializeToNode(options.Value.Defaults, Json)!.AsObject();
        foreach (var (name, value) in fields) merged[name] = value?.DeepClone();
        return merged.Deserialize<LifecycleSettings>(Json) ?? options.Value.Defaults;
    }

    /// <summary>The JSON names a tenant may set.</summary>
    public IReadOnlyCollection<string> Fields => JsonSerializer.SerializeToNode(options.Value.Defaults, Json)!.AsObject().Select(p => p.Key).ToList();

    public Task PutAsync(Guid tenantId, JsonObject fields, CancellationToken ct) => db.Database.ExecuteSqlAsync($"""
        INSERT INTO lifecycle_settings (tenant_id, settings, updated_at) VALUES ({tenantId}, {fields.ToJsonString()}::jsonb, {clock.GetUtcNow()})
        ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
        """, ct);
}
