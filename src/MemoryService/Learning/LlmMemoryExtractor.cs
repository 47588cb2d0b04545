using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MemoryService.Memories;
using Microsoft.Extensions.AI;

namespace MemoryService.Learning;

/// <summary>
/// Extracts candidates with one chat-model call constrained by a strict JSON schema. Every item is checked
/// (kind, key scheme, 0..1 ranges, non-empty content, date); an item that fails is reported, never dropped
/// silently, and a reply that is not the JSON asked for is retried once.
/// </summary>
public sealed partial class LlmMemoryExtractor(IChatClient chat, ILogger<LlmMemoryExtractor> logger) : IMemoryExtractor
{
    internal const string Schema = """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["memories"],
          "properties": {
            "memories": {
              "type": "array",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["kind", "content", "key", "importance", "confidence", "event_date", "evidence"],
                "properties": {
                  "kind": { "type": "string", "enum": ["preference", "fact", "event"] },
                  "content": { "type": "string", "description": "Short third-person statement without the user's name, e.g. 'Is allergic to peanuts'." },
                  "key": { "type": "string", "description": "Stable topic key, lowercase, e.g. diet, likes:hiking, pet:dog." },
                  "importance": { "type": "number", "minimum": 0, "maximum": 1 },
                  "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                  "event_date": { "type": ["string", "null"], "description": "yyyy-MM-dd for plans and past events, else null." },
                  "evidence": { "type": "string", "description": "The user's sentence it comes from." }
                }
              }
            }
          }
        }
        """;

    private const string Instructions = """
        You extract long-term memories about the USER from a conversation between a user and an assistant.
        Only what the user states about themselves counts; ignore the assistant's and system's words, questions,
        hypotheticals, wishes and one-off requests. Each memory is a short third-person statement without a subject,
        such as "Is vegetarian", "Has a dog named Rex", "Prefers tea over coffee", "Plans to fly to Rome on 2025-06-13".
        kind: preference (likes, wants, how to answer), fact (stable facts), event (plans and past events; give event_date).
        key: the stable topic so that a later statement on the same topic replaces this one. Use: name, preferred_name, age,
        birthday, location, hometown, occupation, employer, marital_status, languages, diet, allergy:<thing>,
        condition:<thing>, likes:<thing> (for liking and disliking alike), <topic>_preference (drink, editor, phone, ...),
        favourite_<x>, response_language, response_length, formatting, family:<relation>, children, pet:<species>,
        trip:<place>, event:<what>. Lowercase; spaces become "_".
        importance: 0..1, how much it matters when helping the user (allergies and health are high).
        confidence: 0..1, how clearly the user said it. Resolve relative dates against the conversation date.
        If nothing is worth remembering, return {"memories": []}.
        """;

    public async Task<ExtractionResult> ExtractAsync(IReadOnlyList<ConversationMessage> messages, DateTimeOffset observedAt,
        CancellationToken cancellationToken = default)
    {
        var conversation = new StringBuilder();
        conversation.AppendLine(CultureInfo.InvariantCulture, $"Conversation date: {observedAt:yyyy-MM-dd} ({observedAt:dddd}).");
        conversation.AppendLine("Messages as JSON, in order:");
        conversation.AppendLine(JsonSerializer.Serialize(messages.Select(m => new { role = m.Role, content = m.Content })));
        var reply = await LlmJson.AskAsync(chat,
            [new ChatMessage(ChatRole.System, Instructions), new ChatMessage(ChatRole.User, conversation.ToString())],
            "memories", Schema, ShapeError, logger, cancellationToken);

        var source = Excerpt(messages.LastOrDefault(m => m.Role == ConversationMessage.User)?.Content ?? "");
        if (reply.Json is not { } json)
        {
            logger.LogWarning("Extraction failed: the model gave no usable reply after a retry");
            return new ExtractionResult([], [new ExtractionFailure(source, $"the model's reply was unusable twice: {reply.Error}")]);
        }

        var candidates = new List<MemoryCandidate>();
        var failed = new List<ExtractionFailure>();
        var index = 0;
        foreach (var item in json.GetProperty("memories").EnumerateArray())
        {
            var (candidate, error) = Read(item);
            if (candidate is not null) candidates.Add(candidate);
            else
            {
                var text = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                    ? c.GetString()! : item.GetRawText();
                failed.Add(new ExtractionFailure(Excerpt(text), $"memories[{index}]: {error}"));
                logger.LogWarning("Extracted item {Index} rejected: {Error}", index, error);
            }
            index++;
        }
        return new ExtractionResult(candidates, failed);
    }

    private static string? ShapeError(JsonElement json) =>
        json.TryGetProperty("memories", out var m) && m.ValueKind == JsonValueKind.Array ? null : "no \"memories\" array";

    /// <summary>One item to a candidate, or the first thing wrong with it.</summary>
    internal static (MemoryCandidate? Candidate, string? Error) Read(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object) return (null, "not an object");
        string? Str(string name) => item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        double? Num(string name) => item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

        var kind = Str("kind")?.Trim().ToLowerInvariant() switch
        {
            "preference" => MemoryKind.Preference,
            "fact" => MemoryKind.Fact,
            "event" => MemoryKind.Event,
            _ => (MemoryKind?)null,
        };
        if (kind is null) return (null, "kind must be preference, fact or event");
        var content = Str("content")?.Trim() ?? "";
        if (content.Length == 0) return (null, "content is empty");
        if (content.Length > 500 || content.Any(ch => char.IsControl(ch))) return (null, "content must be at most 500 characters without control characters");
        var key = Str("key")?.Trim().ToLowerInvariant() ?? "";
        if (!KeyPattern().IsMatch(key)) return (null, $"key '{key}' does not follow the key scheme (lowercase topic, optional ':detail')");
        var importance = Num("importance");
        if (importance is not { } imp || double.IsNaN(imp) || imp < 0 || imp > 1) return (null, "importance must be between 0 and 1");
        var confidence = Num("confidence");
        if (confidence is not { } conf || double.IsNaN(conf) || conf < 0 || conf > 1) return (null, "confidence must be between 0 and 1");
        DateTimeOffset? eventDate = null;
        if (Str("event_date") is { Length: > 0 } date)
        {
            if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
                return (null, $"event_date '{date}' is not yyyy-MM-dd");
            eventDate = new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        }
        return (new MemoryCandidate(kind.Value, content, key, imp, conf, eventDate, Excerpt(Str("evidence") ?? content)), null);
    }

    private static string Excerpt(string text) => text.Length <= 300 ? text : text[..300] + "…";

    [GeneratedRegex(@"^[a-z0-9_]{1,64}(:[\p{Ll}\p{N}_\-]{1,63})?$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex KeyPattern();
}
