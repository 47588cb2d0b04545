using System.Text.Json;

namespace MemoryService.Retrieval;

/// <summary>Metadata filters with PostgreSQL's jsonb meaning, applied to in-memory rows.</summary>
public static class JsonMatch
{
    /// <summary>jsonb equality: same type and value (numbers by value, objects regardless of key order).</summary>
    public static bool Equal(JsonElement a, JsonElement b) => JsonElement.DeepEquals(a, b);

    /// <summary>
    /// jsonb containment (<c>@&gt;</c>) below the top level: an object contains an object whose every field it contains;
    /// an array contains an array whose every element some element of it contains; a scalar contains only its equal.
    /// </summary>
    public static bool Contains(JsonElement doc, JsonElement sub) => (doc.ValueKind, sub.ValueKind) switch
    {
        (JsonValueKind.Object, JsonValueKind.Object) => sub.EnumerateObject().All(f => doc.TryGetProperty(f.Name, out var v) && Contains(v, f.Value)),
        (JsonValueKind.Array, JsonValueKind.Array) => sub.EnumerateArray().All(e => doc.EnumerateArray().Any(x => Contains(x, e))),
        (JsonValueKind.Object or JsonValueKind.Array, _) or (_, JsonValueKind.Object or JsonValueKind.Array) => false,
        _ => Equal(doc, sub),
    };
}
