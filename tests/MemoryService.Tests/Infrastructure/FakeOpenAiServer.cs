using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// A real local HTTP server speaking the OpenAI REST protocol, so tests run the real client code
/// (SDK, retries, timeouts) against it: <c>POST /v1/embeddings</c> and <c>POST /v1/chat/completions</c>
/// (plain JSON or SSE streaming). It records every request and can be told to fail, be down, or be slow.
/// It speaks the other providers' chat protocols too, each on its own path (FakeOpenAiServer.Providers.cs):
/// Azure OpenAI's v1 API, Ollama's native <c>/api/chat</c> and Anthropic's <c>/v1/messages</c>.
/// Start one per test with <see cref="StartAsync"/> and dispose it with <c>await using</c>.
/// </summary>
public sealed partial class FakeOpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<int> _failures = new();
    private readonly ConcurrentQueue<string> _chatReplies = new();

    private FakeOpenAiServer(WebApplication app) => _app = app;

    /// <summary>Base URL including "/v1", e.g. http://127.0.0.1:54321/v1: what goes in a BaseUrl setting.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Every request received so far, in arrival order (including failed ones).</summary>
    public IReadOnlyList<RecordedRequest> Requests => _requests.ToArray();

    /// <summary>While true every request gets 503, as from a server that is down behind a proxy.</summary>
    public bool IsDown { get; set; }

    /// <summary>Wait before answering each request (applies to failures too); use it to trigger client timeouts.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Vector length when a request has no "dimensions" field. Default 384.</summary>
    public int DefaultDimensions { get; set; } = 384;

    /// <summary>
    /// Vector for (input text, dimensions). Default: a deterministic pseudo-random unit vector seeded by the text,
    /// so equal texts get equal vectors and different texts nearly orthogonal ones.
    /// </summary>
    public Func<string, int, float[]> EmbeddingFor { get; set; } = DeterministicVector;

    /// <summary>
    /// Chat reply when the queue from <see cref="EnqueueChatReply"/> is empty; gets the request body.
    /// Default: "ok".
    /// </summary>
    public Func<JsonElement, string> ChatReply { get; set; } = _ => "ok";

    /// <summary>
    /// Awaited before a chat completion is answered (after <see cref="Delay"/> and queued failures); it may hold the
    /// request in flight, and a status code it returns is answered as that error. Gets the request body.
    /// </summary>
    public Func<JsonElement, CancellationToken, Task<int?>>? BeforeChatReply { get; set; }

    /// <summary>Starts listening on a free port of 127.0.0.1.</summary>
    public static async Task<FakeOpenAiServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var app = LoopbackServer.Create();
        var server = new FakeOpenAiServer(app);
        app.MapPost("/v1/embeddings", server.HandleAsync(server.EmbeddingsAsync));
        app.MapPost("/v1/chat/completions", server.HandleAsync(server.ChatCompletionsAsync));
        server.MapOtherProviders(app);
        var address = await LoopbackServer.StartAsync(app, cancellationToken);
        server.BaseUrl = new Uri(address + "/v1");
        server.RootUrl = new Uri(address + "/");
        return server;
    }

    /// <summary>Answer the next <paramref name="count"/> requests with <paramref name="statusCode"/> (e.g. 429, 500, 503), then behave.</summary>
    public void FailNext(int count, int statusCode = 503)
    {
        for (var i = 0; i < count; i++) _failures.Enqueue(statusCode);
    }

    /// <summary>Queue chat replies; each chat request takes the next one before falling back to <see cref="ChatReply"/>.</summary>
    public void EnqueueChatReply(params string[] contents)
    {
        foreach (var content in contents) _chatReplies.Enqueue(content);
    }

    /// <summary>Requests received on one path, e.g. "/v1/embeddings".</summary>
    public IReadOnlyList<RecordedRequest> RequestsTo(string path) => Requests.Where(r => r.Path == path).ToList();

    /// <summary>Forget recorded requests, queued failures and queued replies.</summary>
    public void Reset()
    {
        _requests.Clear();
        _failures.Clear();
        _chatReplies.Clear();
        IsDown = false;
        Delay = TimeSpan.Zero;
        BeforeChatReply = null;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private RequestDelegate HandleAsync(Func<HttpContext, JsonElement, Task> handler, Func<HttpContext, int, string?, Task>? writeError = null) => async context =>
    {
        writeError ??= WriteErrorAsync;
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
            body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path.Value ?? "", headers, body, DateTimeOffset.UtcNow));

        if (Delay > TimeSpan.Zero)
        {
            try { await Task.Delay(Delay, context.RequestAborted); }
            catch (OperationCanceledException) { return; } // the client gave up
        }

        // IsDown is checked first so a down server does not consume queued failures.
        var status = IsDown ? 503 : NextFailure();
        if (status != 0)
        {
            await writeError(context, status, null);
            return;
        }

        JsonElement json;
        try
        {
            using var document = JsonDocument.Parse(body);
            json = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            await writeError(context, 400, "Request body is not JSON.");
            return;
        }
        await handler(context, json);
    };

    private int NextFailure() => _failures.TryDequeue(out var status) ? status : 0;

    private async Task EmbeddingsAsync(HttpContext context, JsonElement request)
    {
        var model = request.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
        var dimensions = request.TryGetProperty("dimensions", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetInt32() : DefaultDimensions;
        var base64 = request.TryGetProperty("encoding_format", out var f) && f.GetString() == "base64";
        List<string> inputs = request.TryGetProperty("input", out var input) ? input.ValueKind switch
        {
            JsonValueKind.String => [input.GetString()!],
            JsonValueKind.Array => input.EnumerateArray().Select(i => i.ValueKind == JsonValueKind.String ? i.GetString()! : i.GetRawText()).ToList(),
            _ => [],
        } : [];
        if (inputs.Count == 0)
        {
            await WriteErrorAsync(context, 400, "'input' must be a non-empty string or array.");
            return;
        }

        await WriteJsonAsync(context, writer =>
        {
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            for (var i = 0; i < inputs.Count; i++)
            {
                var vector = EmbeddingFor(inputs[i], dimensions);
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WriteNumber("index", i);
                if (base64)
                {
                    // The SDK asks for base64: little-endian float32 bytes.
                    writer.WriteString("embedding", Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan())));
                }
                else
                {
                    writer.WriteStartArray("embedding");
                    foreach (var v in vector) writer.WriteNumberValue(v);
                    writer.WriteEndArray();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("model", model);
            var tokens = inputs.Sum(CountTokens);
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", tokens);
            writer.WriteNumber("total_tokens", tokens);
            writer.WriteEndObject();
        });
    }

    private async Task ChatCompletionsAsync(HttpContext context, JsonElement request)
    {
        if (BeforeChatReply is { } before && await before(request, context.RequestAborted) is { } failWith)
        {
            await WriteErrorAsync(context, failWith);
            return;
        }
        var model = request.TryGetProperty("model", out var m) ? m.GetString() ?? "" : "";
        var content = _chatReplies.TryDequeue(out var queued) ? queued : ChatReply(request);
        var stream = request.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var id = $"chatcmpl-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var promptTokens = CountTokens(request.TryGetProperty("messages", out var messages) ? messages.GetRawText() : "");
        var completionTokens = CountTokens(content);

        if (!stream)
        {
            await WriteJsonAsync(context, writer =>
            {
                writer.WriteString("id", id);
                writer.WriteString("object", "chat.completion");
                writer.WriteNumber("created", created);
                writer.WriteString("model", model);
                writer.WriteStartArray("choices");
                writer.WriteStartObject();
                writer.WriteNumber("index", 0);
                writer.WriteStartObject("message");
                writer.WriteString("role", "assistant");
                writer.WriteString("content", content);
                writer.WriteEndObject();
                writer.WriteString("finish_reason", "stop");
                writer.WriteEndObject();
                writer.WriteEndArray();
                WriteUsage(writer, promptTokens, completionTokens);
            });
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var includeUsage = request.TryGetProperty("stream_options", out var so) && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;

        // First chunk carries the role, then one chunk per word (spaces kept), then the finish reason.
        await WriteChunkAsync(context, id, created, model, w => { w.WriteString("role", "assistant"); w.WriteString("content", ""); }, null, includeUsage);
        foreach (var piece in SplitKeepingSpaces(content))
            await WriteChunkAsync(context, id, created, model, w => w.WriteString("content", piece), null, includeUsage);
        await WriteChunkAsync(context, id, created, model, _ => { }, "stop", includeUsage);
        if (includeUsage)
        {
            await WriteEventAsync(context, JsonString(writer =>
            {
                writer.WriteString("id", id);
                writer.WriteString("object", "chat.completion.chunk");
                writer.WriteNumber("created", created);
                writer.WriteString("model", model);
                writer.WriteStartArray("choices");
                writer.WriteEndArray();
                WriteUsage(writer, promptTokens, completionTokens);
            }));
        }
        await WriteEventAsync(context, "[DONE]");
    }

    private static Task WriteChunkAsync(HttpContext context, string id, long created, string model, Action<Utf8JsonWriter> delta, string? finishReason, bool includeUsage) =>
        WriteEventAsync(context, JsonString(writer =>
        {
            writer.WriteString("id", id);
            writer.WriteString("object", "chat.completion.chunk");
            writer.WriteNumber("created", created);
            writer.WriteString("model", model);
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            delta(writer);
            writer.WriteEndObject();
            if (finishReason is null) writer.WriteNull("finish_reason");
            else writer.WriteString("finish_reason", finishReason);
            writer.WriteEndObject();
            writer.WriteEndArray();
            if (includeUsage) writer.WriteNull("usage");
        }));

    private static async Task WriteEventAsync(HttpContext context, string data)
    {
        await context.Response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static void WriteUsage(Utf8JsonWriter writer, int promptTokens, int completionTokens)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", promptTokens);
        writer.WriteNumber("completion_tokens", completionTokens);
        writer.WriteNumber("total_tokens", promptTokens + completionTokens);
        writer.WriteEndObject();
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string? message = null)
    {
        context.Response.StatusCode = status;
        return WriteJsonAsync(context, writer =>
        {
            writer.WriteStartObject("error");
            writer.WriteString("message", message ?? $"Fake server answered {status} as instructed.");
            writer.WriteString("type", status == 429 ? "rate_limit_exceeded" : "server_error");
            writer.WriteNull("param");
            writer.WriteNull("code");
            writer.WriteEndObject();
        }, setStatus: false);
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> writeProperties, bool setStatus = true)
    {
        if (setStatus) context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonString(writeProperties), context.RequestAborted);
    }

    private static string JsonString(Action<Utf8JsonWriter> writeProperties)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static IEnumerable<string> SplitKeepingSpaces(string content)
    {
        var start = 0;
        for (var i = 1; i <= content.Length; i++)
        {
            if (i == content.Length || content[i] == ' ')
            {
                if (i > start) yield return content[start..i];
                start = i;
            }
        }
    }

    private static int CountTokens(string text) => Math.Max(1, text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);

    /// <summary>Unit vector from a xorshift generator seeded with the FNV-1a hash of the text.</summary>
    public static float[] DeterministicVector(string text, int dimensions)
    {
        var state = 14695981039346656037UL;
        foreach (var c in text)
        {
            state ^= c;
            state *= 1099511628211UL;
        }
        if (state == 0) state = 1;
        var vector = new float[dimensions];
        double sum = 0;
        for (var i = 0; i < dimensions; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            vector[i] = (float)((state >> 11) * (1.0 / (1UL << 53)) * 2 - 1);
            sum += vector[i] * vector[i];
        }
        var scale = (float)(1 / Math.Sqrt(sum));
        for (var i = 0; i < dimensions; i++) vector[i] *= scale;
        return vector;
    }
}

/// <summary>One request as the fake server received it.</summary>
/// <param name="Headers">Header names are case-insensitive.</param>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset ReceivedAt)
{
    /// <summary>The body parsed as JSON.</summary>
    public JsonElement Json
    {
        get
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.Clone();
        }
    }
}
