using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MemoryService.Tenancy;

/// <summary>One client application. Everything it stores is keyed by its id.</summary>
public sealed class Tenant
{
    public Guid Id { get; set; }
    public required string Name { get; set; }
    public string? ContextTemplate { get; set; }
    /// <summary>The OpenAI-compatible proxy learns from every exchange unless a request's X-Memory-Learn says otherwise.</summary>
    public bool ProxyLearning { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An API key: only its SHA-256 is stored; the key itself is shown once, at creation.</summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public string? Name { get; set; }
    public required string Prefix { get; set; }
    public required byte[] KeyHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
}

internal sealed class TenantConfiguration : IEntityTypeConfiguration<Tenant>
{
    public void Configure(EntityTypeBuilder<Tenant> b) => b.ToTable("tenants");
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b) => b.ToTable("api_keys");
}

public sealed record TenantResponse(Guid Id, string Name, DateTimeOffset CreatedAt);

public sealed record ApiKeyResponse(Guid Id, Guid TenantId, string? Name, string Prefix, DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

/// <summary>The only response that carries the key itself.</summary>
public sealed record CreatedApiKeyResponse(Guid Id, Guid TenantId, string? Name, string Prefix, string Key, DateTimeOffset CreatedAt);

public static class TenantMappings
{
    public static TenantResponse AsResponse(this Tenant t) => new(t.Id, t.Name, t.CreatedAt);

    public static ApiKeyResponse AsResponse(this ApiKey k) =>
        new(k.Id, k.TenantId, k.Name, k.Prefix, k.CreatedAt, k.RevokedAt, k.LastUsedAt);
}
