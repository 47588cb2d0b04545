using System.Text.Json.Nodes;

namespace MemoryService.Retrieval;

/// <summary>Metadata filters with PostgreSQL's jsonb meaning, applied to in-memory rows.</summary>
public static class JsonMatch
{
    /// <summary>jsonb equality: same type and value (numbers by value, objects regardless of key order).</summary>
    public static bool Equal(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);

    /// <summary>
    /// jsonb containment (<c>@&gt;</c>) below the top level: an object contains an object whose every field it contains;
    /// an array contains an array whose every element some element of it contains; a scalar contains only its equal.
    /// </summary>
    public static bool Contains(JsonNode? doc, JsonNode? sub) => (doc, sub) switch
    {
        (JsonObject d, JsonObject s) => s.All(f => d.TryGetPropertyValue(f.Key, out var v) && Contains(v, f.Value)),
        (JsonArray d, JsonArray s) => s.All(e => d.Any(x => Contains(x, e))),
        (JsonObject or JsonArray, _) or (_, JsonObject or JsonArray) => false,
        _ => Equal(doc, sub),
    };
}
