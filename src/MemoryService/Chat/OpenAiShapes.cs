using System.ClientModel.Primitives;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;

namespace MemoryService.Chat;

/// <summary>
/// The proxy's translation for providers that are not OpenAI-compatible: an OpenAI chat-completions request becomes
/// Microsoft.Extensions.AI messages and options, and the reply goes back as OpenAI's JSON or SSE chunks. The messages
/// and the replies are converted by the OpenAI SDK and Microsoft.Extensions.AI.OpenAI; only the sampling options are read here.
/// </summary>
internal static class OpenAiShapes
{
    public sealed record ChatRequest(List<ChatMessage> Messages, ChatOptions Options);

    /// <summary>The request as messages and options, or null with field errors.</summary>
    public static ChatRequest? ToChat(JsonObject body, Dictionary<string, string[]> errors)
    {
        var messages = new List<OpenAiChatMessage>();
        var array = body["messages"]!.AsArray();
        for (var i = 0; i < array.Count; i++)
        {
            try
            {
                messages.Add(ModelReaderWriter.Read<OpenAiChatMessage>(BinaryData.FromString(array[i]!.ToJsonString()))!);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                MemoryValidation.Add(errors, $"messages[{i}]", $"Not an OpenAI chat message: {ex.Message}");
            }
        }

        var options = new ChatOptions
        {
            ModelId = String(body, "model", errors),
            Temperature = (float?)Number(body, "temperature", errors),
            TopP = (float?)Number(body, "top_p", errors),
            FrequencyPenalty = (float?)Number(body, "frequency_penalty", errors),
            PresencePenalty = (float?)Number(body, "presence_penalty", errors),
            Seed = (long?)Number(body, "seed", errors),
            MaxOutputTokens = (int?)(Number(body, "max_completion_tokens", errors) ?? Number(body, "max_tokens", errors)),
        };
        switch (body["stop"])
        {
            case null: break;
            case JsonValue v when v.TryGetValue<string>(out var one): options.StopSequences = [one]; break;
            case JsonArray stops when stops.All(x => x is JsonValue sv && sv.TryGetValue<string>(out _)):
                options.StopSequences = stops.Select(x => x!.GetValue<string>()).ToList();
                break;
            default: MemoryValidation.Add(errors, "stop", "A string or an array of strings."); break;
        }
        if (body["response_format"] is JsonObject format)
        {
            options.ResponseFormat = format["type"]?.GetValue<string>() switch
            {
                "json_object" => ChatResponseFormat.Json,
                "json_schema" when format["json_schema"] is JsonObject js && js["schema"] is JsonObject schema =>
                    ChatResponseFormat.ForJsonSchema(JsonSerializer.SerializeToElement(schema), js["name"]?.GetValue<string>(), js["description"]?.GetValue<string>()),
                _ => ChatResponseFormat.Text,
            };
        }
        // Tools get here only when Llm:AllowTools is on: they are declared to the model, and its calls come back as tool_calls.
        if (body["tools"] is JsonArray tools)
        {
            options.Tools = [];
            foreach (var tool in tools.OfType<JsonObject>())
            {
                if (tool["function"] is not JsonObject f || f["name"] is not JsonValue name || !name.TryGetValue<string>(out var fn))
                {
                    MemoryValidation.Add(errors, "tools", "Each tool is {\"type\": \"function\", \"function\": {\"name\": ...}}.");
                    break;
                }
                var parameters = f["parameters"] is JsonObject p ? JsonSerializer.SerializeToElement(p) : JsonSerializer.SerializeToElement(new { type = "object" });
                options.Tools.Add(AIFunctionFactory.CreateDeclaration(fn, f["description"]?.GetValue<string>(), parameters));
            }
        }
        return errors.Count > 0 ? null : new ChatRequest(messages.AsChatMessages().ToList(), options);
    }

    // The ChatResponse -> OpenAI conversions are marked for evaluation in Microsoft.Extensions.AI.OpenAI 11.0.
#pragma warning disable OPENAI001
    /// <summary>A reply as OpenAI's chat.completion JSON.</summary>
    public static string Completion(ChatResponse response) => ModelReaderWriter.Write(response.AsOpenAIChatCompletion()).ToString();

    /// <summary>The updates (the first already read when <paramref name="any"/>) as OpenAI's chat.completion.chunk JSON.</summary>
    public static async IAsyncEnumerable<string> Chunks(IAsyncEnumerator<ChatResponseUpdate> updates, bool any,
        [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var chunk in Rest(updates, any).AsOpenAIStreamingChatCompletionUpdatesAsync(ct))
            yield return ModelReaderWriter.Write(chunk).ToString();
    }
#pragma warning restore OPENAI001

    private static async IAsyncEnumerable<ChatResponseUpdate> Rest(IAsyncEnumerator<ChatResponseUpdate> updates, bool any)
    {
        try
        {
            while (any)
            {
                yield return updates.Current;
                any = await updates.MoveNextAsync();
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
    }

    private static string? String(JsonObject body, string field, Dictionary<string, string[]> errors)
    {
        if (body[field] is null) return null;
        if (body[field] is JsonValue v && v.TryGetValue<string>(out var text)) return text;
        MemoryValidation.Add(errors, field, "A string.");
        return null;
    }

    private static double? Number(JsonObject body, string field, Dictionary<string, string[]> errors)
    {
        if (body[field] is null) return null;
        // ApplyLimits writes whole numbers of its own into the body, so read any number kind, not only doubles.
        if (body[field] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)) return number;
        MemoryValidation.Add(errors, field, "A number.");
        return null;
    }
}
