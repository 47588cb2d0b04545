using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Text.Json.Nodes;

namespace MemoryService.Memories;

/// <summary>Section "Memories": limits on what one memory may hold.</summary>
public sealed class MemoriesOptions
{
    [Range(16, 1_048_576)] public int MaxContentBytes { get; set; } = 4096;
    [Range(1, 10_000)] public int MaxBatchItems { get; set; } = 1000;
    [Range(2, 1_048_576)] public int MaxMetadataBytes { get; set; } = 8192;
    [Range(0, 1000)] public int MaxTags { get; set; } = 32;
    /// <summary>How many creates of one owner run their transaction at once on a replica (see OwnerWriteGate).</summary>
    [Range(1, 1000)] public int ConcurrentWritesPerOwner { get; set; } = 4;
}

public sealed record CreateMemoryRequest(
    [property: Description("The memory as a short statement, e.g. \"Prefers tea over coffee\". UTF-8, at most Memories:MaxContentBytes (4 KB).")] string? Content,
    [property: Description("preference, fact or event (user memories; default fact); knowledge for /v1/knowledge.")] MemoryKind? Kind = null,
    [property: Description("A stable topic such as diet or response_style; a newer memory with the same key supersedes older ones when learned.")] string? Key = null,
    [property: Description("Labels to filter on.")] string[]? Tags = null,
    [property: Description("Any JSON object, filterable in search.")] JsonObject? Metadata = null,
    [property: Description("0..1, default 0.5.")] double? Importance = null,
    [property: Description("0..1, default 1.")] double? Confidence = null,
    [property: Description("user (default), inferred or import.")] MemorySource? Source = null,
    [property: Description("When it was said or happened; default now.")] DateTimeOffset? ObservedAt = null,
    [property: Description("After this time the memory is no longer served.")] DateTimeOffset? ExpiresAt = null,
    [property: Description("Never forgotten by the lifecycle. Default false.")] bool? Pinned = null);

public sealed record BatchCreateRequest(IReadOnlyList<CreateMemoryRequest>? Items);

/// <summary>JSON merge patch: fields present are set, a null key or expires_at clears it.</summary>
public sealed record PatchMemoryRequest(
    string? Content = null,
    double? Importance = null,
    string[]? Tags = null,
    JsonObject? Metadata = null,
    string? Key = null,
    DateTimeOffset? ExpiresAt = null,
    bool? Pinned = null,
    [property: Description("active or archived (archived: kept and listed with include_archived, never served).")] MemoryStatus? Status = null);

public sealed record MemoryResponse(
    Guid Id,
    string? UserId,
    MemoryKind Kind,
    string Content,
    string? Key,
    IReadOnlyList<string> Tags,
    JsonObject Metadata,
    double Importance,
    double Confidence,
    MemorySource Source,
    DateTimeOffset ObservedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset ValidFrom,
    DateTimeOffset? ValidTo,
    DateTimeOffset? ExpiresAt,
    Guid? SupersededBy,
    int Version,
    int AccessCount,
    DateTimeOffset? LastAccessedAt,
    string? EmbeddingModel,
    [property: Description("active (served) or archived (kept, never searched or put in context).")] MemoryStatus Status,
    [property: Description("Never forgotten by the lifecycle.")] bool Pinned);

public sealed record HistoryResponse(long Id, Guid MemoryId, MemoryEvent Event, string? OldContent, string? NewContent,
    DateTimeOffset ChangedAt, string? Actor,
    [property: Description("What the event links to: merged into/from, a feedback signal and comment, a promotion's evidence.")] JsonObject? Detail);

public static class MemoryMappings
{
    public static MemoryResponse AsResponse(this Memory m) => new(
        m.Id, m.UserId, m.Kind, m.Content, m.Key, m.Tags, m.Metadata, Math.Round(m.Importance, 4), Math.Round(m.Confidence, 4),
        m.Source, m.ObservedAt, m.CreatedAt, m.UpdatedAt, m.ValidFrom, m.ValidTo, m.ExpiresAt, m.SupersededBy, m.Version,
        m.AccessCount, m.LastAccessedAt, m.EmbeddingModel, m.Status, m.Pinned);

    public static HistoryResponse AsResponse(this MemoryHistory h) =>
        new(h.Id, h.MemoryId, h.Event, h.OldContent, h.NewContent, h.ChangedAt, h.Actor, h.Detail);
}

/// <summary>Field checks shared by create, batch and patch; errors are keyed by the JSON field name.</summary>
public static class MemoryValidation
{
    public static void Content(string? content, MemoriesOptions o, string prefix, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrWhiteSpace(content)) Add(errors, prefix + "content", "Required, and not blank.");
        else if (Encoding.UTF8.GetByteCount(content) > o.MaxContentBytes)
            Add(errors, prefix + "content", $"At most {o.MaxContentBytes} bytes of UTF-8.");
        else if (content.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            Add(errors, prefix + "content", "Control characters other than tab and newline are not allowed.");
    }

    public static void Unit(double? value, string field, Dictionary<string, string[]> errors)
    {
        if (value is { } v && (double.IsNaN(v) || v < 0 || v > 1)) Add(errors, field, "Must be between 0 and 1.");
    }

    public static void Key(string? key, string field, Dictionary<string, string[]> errors)
    {
        if (key is null) return;
        if (key.Length is 0 or > 128 || key.Any(char.IsControl)) Add(errors, field, "1-128 characters without control characters.");
    }

    public static void Tags(string[]? tags, MemoriesOptions o, string field, Dictionary<string, string[]> errors)
    {
        if (tags is null) return;
        if (tags.Length > o.MaxTags) Add(errors, field, $"At most {o.MaxTags} tags.");
        else if (tags.Any(t => string.IsNullOrWhiteSpace(t) || t.Length > 64 || t.Any(char.IsControl)))
            Add(errors, field, "Each tag is 1-64 characters without control characters.");
    }

    public static void Metadata(JsonObject? metadata, MemoriesOptions o, string field, Dictionary<string, string[]> errors)
    {
        if (metadata is not null && Encoding.UTF8.GetByteCount(metadata.ToJsonString()) > o.MaxMetadataBytes)
            Add(errors, field, $"At most {o.MaxMetadataBytes} bytes of JSON.");
    }

    public static Dictionary<string, string[]> Create(CreateMemoryRequest r, bool knowledge, MemoriesOptions o, string prefix = "")
    {
        var errors = new Dictionary<string, string[]>();
        Content(r.Content, o, prefix, errors);
        if (knowledge && r.Kind is not (null or MemoryKind.Knowledge))
            Add(errors, prefix + "kind", "App knowledge has kind 'knowledge'.");
        if (!knowledge && r.Kind is MemoryKind.Knowledge)
            Add(errors, prefix + "kind", "A user's memory is a preference, fact or event; app-wide knowledge goes to /v1/knowledge.");
        Key(r.Key, prefix + "key", errors);
        Tags(r.Tags, o, prefix + "tags", errors);
        Metadata(r.Metadata, o, prefix + "metadata", errors);
        Unit(r.Importance, prefix + "importance", errors);
        Unit(r.Confidence, prefix + "confidence", errors);
        return errors;
    }

    public static void Add(Dictionary<string, string[]> errors, string field, string message) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
}
