using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// The chat protocols of the other providers, on the same server, sharing its recording, failures, delay and replies:
/// Azure OpenAI's v1 API (<c>/openai/v1/chat/completions</c>, key in the <c>api-key</c> header), Ollama's native
/// <c>POST /api/chat</c> (one JSON object, or NDJSON lines when streaming) and Anthropic's Messages API
/// (<c>POST /v1/messages</c>, one message object or its SSE events).
/// </summary>
public sealed partial class FakeOpenAiServer
{
    public const string AzureChatPath = "/openai/v1/chat/completions";
    public const string OllamaChatPath = "/api/chat";
    public const string AnthropicMessagesPath = "/v1/messages";

    /// <summary>The server root, e.g. http://127.0.0.1:54321/: Ollama's and Anthropic's base URL.</summary>
    public Uri RootUrl { get; private set; } = null!;

    /// <summary>What an Azure OpenAI resource's v1 base URL looks like here: root + "openai/v1/".</summary>
    public Uri AzureUrl => new(RootUrl, "openai/v1/");

    private void MapOtherProviders(WebApplication app)
    {
        app.MapPost(AzureChatPath, HandleAsync(AzureChatAsync));
        app.MapPost(OllamaChatPath, HandleAsync(OllamaChatAsync, WriteOllamaErrorAsync));
        app.MapPost(AnthropicMessagesPath, HandleAsync(AnthropicMessagesAsync, WriteAnthropicErrorAsync));
    }

    private Task AzureChatAsync(HttpContext context, JsonElement request) =>
        // Azure refuses a request without its key header.
        context.Request.Headers.ContainsKey("api-key") ? ChatCompletionsAsync(context, request) : WriteErrorAsync(context, 401, "Missing api-key header.");

    private async Task<string?> ReplyForAsync(HttpContext context, JsonElement request, Func<HttpContext, int, string?, Task> writeError)
    {
        if (BeforeChatReply is { } before && await before(request, context.RequestAborted) is { } failWith)
        {
            await writeError(context, failWith, null);
            return null;
        }
        return _chatReplies.TryDequeue(out var queued) ? queued : ChatReply(request);
    }

    private async Task OllamaChatAsync(HttpContext context, JsonElement request)
    {
        if (await ReplyForAsync(context, request, WriteOllamaErrorAsync) is not { } content) return;
        var model = request.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
        // Ollama streams unless told not to.
        var stream = !request.TryGetProperty("stream", out var s) || s.ValueKind != JsonValueKind.False;
        var created = DateTimeOffset.UtcNow.ToString("O");
        var promptTokens = CountTokens(request.TryGetProperty("messages", out var messages) ? messages.GetRawText() : "");
        var evalTokens = CountTokens(content);

        // Every line is a message; the last has done: true, the reason and the counts.
        void Line(Utf8JsonWriter w, string text, bool done)
        {
            w.WriteString("model", model);
            w.WriteString("created_at", created);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text);
            w.WriteEndObject();
            w.WriteBoolean("done", done);
            if (!done) return;
            w.WriteString("done_reason", "stop");
            w.WriteNumber("total_duration", 1000);
            w.WriteNumber("prompt_eval_count", promptTokens);
            w.WriteNumber("eval_count", evalTokens);
        }

        if (!stream)
        {
            await WriteJsonAsync(context, w => Line(w, content, done: true));
            return;
        }
        context.Response.ContentType = "application/x-ndjson";
        foreach (var piece in SplitKeepingSpaces(content))
            await WriteLineAsync(context, JsonString(w => Line(w, piece, done: false)) + "\n");
        await WriteLineAsync(context, JsonString(w => Line(w, "", done: true)) + "\n");
    }

    private async Task AnthropicMessagesAsync(HttpContext context, JsonElement request)
    {
        if (await ReplyForAsync(context, request, WriteAnthropicErrorAsync) is not { } content) return;
        var model = request.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
        var stream = request.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var id = $"msg_{Guid.NewGuid():N}";
        var inputTokens = CountTokens((request.TryGetProperty("system", out var sys) ? sys.GetRawText() : "") +
            (request.TryGetProperty("messages", out var messages) ? messages.GetRawText() : ""));
        var outputTokens = CountTokens(content);

        void Message(Utf8JsonWriter w, bool withContent)
        {
            w.WriteString("id", id);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", model);
            w.WriteStartArray("content");
            if (withContent)
            {
                w.WriteStartObject();
                w.WriteString("type", "text");
                w.WriteString("text", content);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (withContent) w.WriteString("stop_reason", "end_turn");
            else w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", inputTokens);
            w.WriteNumber("output_tokens", withContent ? outputTokens : 1);
            w.WriteEndObject();
        }

        if (!stream)
        {
            await WriteJsonAsync(context, w => Message(w, withContent: true));
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await WriteAnthropicEventAsync(context, "message_start", w => { w.WriteString("type", "message_start"); w.WriteStartObject("message"); Message(w, false); w.WriteEndObject(); });
        await WriteAnthropicEventAsync(context, "content_block_start", w =>
        {
            w.WriteString("type", "content_block_start");
            w.WriteNumber("index", 0);
            w.WriteStartObject("content_block");
            w.WriteString("type", "text");
            w.WriteString("text", "");
            w.WriteEndObject();
        });
        await WriteAnthropicEventAsync(context, "ping", w => w.WriteString("type", "ping"));
        foreach (var piece in SplitKeepingSpaces(content))
        {
            await WriteAnthropicEventAsync(context, "content_block_delta", w =>
            {
                w.WriteString("type", "content_block_delta");
                w.WriteNumber("index", 0);
                w.WriteStartObject("delta");
                w.WriteString("type", "text_delta");
                w.WriteString("text", piece);
                w.WriteEndObject();
            });
        }
        await WriteAnthropicEventAsync(context, "content_block_stop", w => { w.WriteString("type", "content_block_stop"); w.WriteNumber("index", 0); });
        await WriteAnthropicEventAsync(context, "message_delta", w =>
        {
            w.WriteString("type", "message_delta");
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", "end_turn");
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("output_tokens", outputTokens);
            w.WriteEndObject();
        });
        await WriteAnthropicEventAsync(context, "message_stop", w => w.WriteString("type", "message_stop"));
    }

    private static async Task WriteLineAsync(HttpContext context, string text)
    {
        await context.Response.WriteAsync(text, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static Task WriteAnthropicEventAsync(HttpContext context, string name, Action<Utf8JsonWriter> data) =>
        WriteLineAsync(context, $"event: {name}\ndata: {JsonString(data)}\n\n");

    private static Task WriteOllamaErrorAsync(HttpContext context, int status, string? message)
    {
        context.Response.StatusCode = status;
        return WriteJsonAsync(context, w => w.WriteString("error", message ?? $"Fake server answered {status} as instructed."), setStatus: false);
    }

    private static Task WriteAnthropicErrorAsync(HttpContext context, int status, string? message)
    {
        context.Response.StatusCode = status;
        return WriteJsonAsync(context, w =>
        {
            w.WriteString("type", "error");
            w.WriteStartObject("error");
            w.WriteString("type", status switch { 429 => "rate_limit_error", 529 => "overloaded_error", 400 => "invalid_request_error", _ => "api_error" });
            w.WriteString("message", message ?? $"Fake server answered {status} as instructed.");
            w.WriteEndObject();
        }, setStatus: false);
    }
}
