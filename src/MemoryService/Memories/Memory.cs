using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Pgvector;

namespace MemoryService.Memories;

/// <summary>
/// One remembered thing: a user's preference, fact or event, or (UserId null) the tenant's app knowledge.
/// A superseded memory keeps its row with ValidTo set. The full-text column is written by the database and read by
/// plain SQL (Retrieval), not mapped here.
/// </summary>
public sealed class Memory
{
    public Guid Id { get; set; }
    public Guid TenantId { get; set; }
    public string? UserId { get; set; }
    public MemoryKind Kind { get; set; }
    public required string Content { get; set; }
    public string? Key { get; set; }
    public string[] Tags { get; set; } = [];
    public JsonObject Metadata { get; set; } = [];
    public float Importance { get; set; }
    public float Confidence { get; set; }
    public MemorySource Source { get; set; }
    public DateTimeOffset ObservedAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset ValidFrom { get; set; }
    public DateTimeOffset? ValidTo { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public Guid? SupersededBy { get; set; }
    public int Version { get; set; } = 1;
    public int AccessCount { get; set; }
    public DateTimeOffset? LastAccessedAt { get; set; }
    public string? EmbeddingModel { get; set; }
    /// <summary>The content's vector by <see cref="EmbeddingModel"/>, stored in half precision (pgvector's halfvec); null while pending.</summary>
    public HalfVector? Embedding { get; set; }
    /// <summary>Archived memories are kept (listed on request, exported, restorable) but never searched or put in context.</summary>
    public MemoryStatus Status { get; set; } = MemoryStatus.Active;
    /// <summary>A pinned memory is never forgotten by the lifecycle.</summary>
    public bool Pinned { get; set; }

    public string ETag => $"\"{Version}\"";

    /// <summary>A shallow copy (the in-memory index hands out copies, never its own rows).</summary>
    public Memory Copy() => (Memory)MemberwiseClone();
}

/// <summary>Append-only record of every change to a memory.</summary>
public sealed class MemoryHistory
{
    public long Id { get; set; }
    public Guid TenantId { get; set; }
    public string? UserId { get; set; }
    public Guid MemoryId { get; set; }
    public MemoryEvent Event { get; set; }
    public string? OldContent { get; set; }
    public string? NewContent { get; set; }
    public DateTimeOffset ChangedAt { get; set; }
    public string? Actor { get; set; }
    /// <summary>What the event links to or carries: merged ids, a feedback signal, a promotion's evidence.</summary>
    public JsonObject? Detail { get; set; }
}

public enum MemoryStatus
{
    Active,
    Archived,
}

public enum MemoryEvent
{
    Created,
    Updated,
    Superseded,
    Deleted,
    Merged,
    Restored,
    Archived,
    Forgotten,
    Promoted,
    Feedback,
}

/// <summary>A stored response to a POST carrying an Idempotency-Key.</summary>
public sealed class IdempotencyRecord
{
    public Guid TenantId { get; set; }
    public required string Key { get; set; }
    public required byte[] RequestHash { get; set; }
    public string? UserId { get; set; }
    public int StatusCode { get; set; }
    public required string ResponseBody { get; set; }
    public string? Location { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class MemoryConfiguration : IEntityTypeConfiguration<Memory>
{
    public void Configure(EntityTypeBuilder<Memory> b)
    {
        b.ToTable("memories");
        b.Property(m => m.Kind).HasConversion(LowercaseEnum<MemoryKind>());
        b.Property(m => m.Source).HasConversion(LowercaseEnum<MemorySource>());
        b.Property(m => m.Status).HasConversion(LowercaseEnum<MemoryStatus>());
        b.Property(m => m.Metadata).HasColumnType("jsonb").HasConversion(
            v => v.ToJsonString(default(JsonSerializerOptions)),
            v => JsonNode.Parse(v, default, default)!.AsObject(),
            new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<JsonObject>(
                (a, b) => JsonNode.DeepEquals(a, b), v => v.ToJsonString(default(JsonSerializerOptions)).GetHashCode(), v => v.DeepClone().AsObject()));
        b.Property(m => m.Embedding).HasColumnType("halfvec");
        b.Property(m => m.Version).IsConcurrencyToken();
        b.Ignore(m => m.ETag);
    }

    internal static ValueConverter<T, string> LowercaseEnum<T>() where T : struct, Enum =>
        new(v => v.ToString().ToLowerInvariant(), v => Enum.Parse<T>(v, true));
}

internal sealed class MemoryHistoryConfiguration : IEntityTypeConfiguration<MemoryHistory>
{
    public void Configure(EntityTypeBuilder<MemoryHistory> b)
    {
        b.ToTable("memory_history");
        b.Property(h => h.Id).UseIdentityAlwaysColumn();
        b.Property(h => h.Event).HasConversion(MemoryConfiguration.LowercaseEnum<MemoryEvent>());
        b.Property(h => h.Detail).HasColumnType("jsonb").HasConversion(
            v => v == null ? null : v.ToJsonString(default(JsonSerializerOptions)),
            v => v == null ? null : JsonNode.Parse(v, default, default)!.AsObject(),
            new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<JsonObject?>(
                (a, b) => JsonNode.DeepEquals(a, b), v => v == null ? 0 : v.ToJsonString(default(JsonSerializerOptions)).GetHashCode(),
                v => v == null ? null : v.DeepClone().AsObject()));
    }
}

internal sealed class IdempotencyRecordConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<IdempotencyRecord> b)
    {
        b.ToTable("idempotency_records");
        b.HasKey(r => new { r.TenantId, r.Key });
    }
}
