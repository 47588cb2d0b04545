using System.Text.Json;
using MemoryService.Hosting;
using Microsoft.Extensions.AI;

namespace MemoryService.Learning;

/// <summary>
/// One structured call to a chat model: the reply is constrained by a strict JSON schema, parsed and checked
/// for shape; an unreadable reply is retried once with the parse error shown to the model.
/// </summary>
internal static class LlmJson
{
    public sealed record Reply(JsonElement? Json, string? Error);

    /// <summary>Asks once (twice if the first reply is unusable); Json is null and Error says why when both fail.</summary>
    public static async Task<Reply> AskAsync(IChatClient chat, IReadOnlyList<ChatMessage> prompt, string schemaName, string schema,
        Func<JsonElement, string?> shapeError, ILogger logger, CancellationToken ct)
    {
        using var schemaDoc = JsonDocument.Parse(schema);
        var options = new ChatOptions
        {
            Temperature = 0,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schemaDoc.RootElement.Clone(), schemaName),
            // OpenAI's strict structured output (Microsoft.Extensions.AI.OpenAI reads this key); other providers ignore it.
            AdditionalProperties = new AdditionalPropertiesDictionary { ["strict"] = true },
        };
        var messages = prompt.ToList();
        string? error = null;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            ChatResponse response;
            try
            {
                response = await chat.GetResponseAsync(messages, options, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                throw ex as DependencyUnavailableException ?? new DependencyUnavailableException($"The language model is unavailable: {ex.Message}", ex);
            }
            var text = response.Text ?? "";
            error = Parse(text, shapeError, out var json);
            if (error is null) return new Reply(json, null);
            logger.LogWarning("Model reply for {Schema} unusable on attempt {Attempt}: {Error}", schemaName, attempt, error);
            messages.Add(new ChatMessage(ChatRole.Assistant, text));
            messages.Add(new ChatMessage(ChatRole.User,
                $"That reply could not be used: {error}. Answer again with only one JSON object that follows the schema."));
        }
        return new Reply(null, error);
    }

    private static string? Parse(string text, Func<JsonElement, string?> shapeError, out JsonElement json)
    {
        json = default;
        var trimmed = text.Trim();
        // Some models wrap JSON in a Markdown fence even when asked not to.
        if (trimmed.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLine = trimmed.IndexOf('\n');
            var lastFence = trimmed.LastIndexOf("```", StringComparison.Ordinal);
            if (firstLine > 0 && lastFence > firstLine) trimmed = trimmed[(firstLine + 1)..lastFence].Trim();
        }
        try
        {
            using var doc = JsonDocument.Parse(trimmed);
            json = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return "not valid JSON (" + ex.Message.Split(" Path:")[0] + ")";
        }
        return json.ValueKind == JsonValueKind.Object ? shapeError(json) : "not a JSON object";
    }
}
