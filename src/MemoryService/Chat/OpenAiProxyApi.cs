using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Context;
using MemoryService.Data;
using MemoryService.Hosting;
using MemoryService.Learning;
using MemoryService.Llm;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MemoryService.Chat;

/// <summary>
/// POST /v1/openai/chat/completions: OpenAI's chat API with memory. An app points its OpenAI client at
/// the service's base URL plus /v1/openai with its tenant key as the API key; the user's context is prepended as a system
/// message and everything else in the request passes through to the configured model, within the Llm limits
/// (allowed models, output-token cap, one choice, tools only when allowed). With <c>X-Memory-Learn: true</c> (or the
/// tenant's proxy_learning setting) the exchange is recorded as a durable learning job, as chat's <c>learn: true</c> does.
/// </summary>
public static class OpenAiProxyApi
{
    public const string UserHeader = "X-User-Id";
    public const string MemoryIdsHeader = "X-Memory-Ids";
    public const string LearnHeader = "X-Memory-Learn";
    public const string LearningJobHeader = "X-Memory-Learning-Job";

    /// <summary>Records the exchange (the model's reply, or null when it failed) as a learning job; returns the job's id.</summary>
    private delegate Task<Guid?> LearnExchange(string? reply, CancellationToken ct);

    public static IEndpointRouteBuilder MapOpenAiProxy(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/openai/chat/completions", Completions).WithTags("Chat")
            .WithName("OpenAiChatCompletions")
            .WithSummary("OpenAI-compatible chat completions (streaming too) with the user's memory prepended; the user is the 'user' field or X-User-Id. " +
                "X-Memory-Learn: true|false learns from the exchange (default: the tenant's proxy_learning setting).")
            .Accepts<JsonObject>("application/json")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout);
        return app;
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> Completions(
        HttpContext http, Caller caller, ContextBuilder builder, IOptions<LlmOptions> llm, IServiceProvider services,
        LearningJobs learning, MemoryDb db, TimeProvider clock, ILogger<OpenAiPassThrough> logger, CancellationToken ct)
    {
        // 1. parse loosely: OpenAI clients send many fields this service does not model, and all of them pass through
        var (body, bodyErrors) = await JsonBodies.ReadObjectAsync(http.Request, ct);
        if (body is null) return TypedResults.ValidationProblem(bodyErrors!);

        var errors = new Dictionary<string, string[]>();
        var userId = body["user"] is JsonValue u && u.TryGetValue<string>(out var fromBody) && fromBody.Length > 0
            ? fromBody : http.Request.Headers[UserHeader].ToString();
        if (userId.Length == 0) MemoryValidation.Add(errors, "user", $"Say whose memory to use: the request's 'user' field or the {UserHeader} header.");
        else if (AppUser.Validate(userId) is { } userError) MemoryValidation.Add(errors, "user", userError);
        var turns = Turns(body["messages"], errors);
        bool? learnAsked = null;
        if (http.Request.Headers[LearnHeader].ToString() is { Length: > 0 } learnHeader)
        {
            if (bool.TryParse(learnHeader, out var asked)) learnAsked = asked;
            else MemoryValidation.Add(errors, LearnHeader, "true or false.");
        }
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        if (services.GetService<IChatClient>() is not { } chat) return TypedResults.Problem(ChatApi.NotConfigured());

        // 2. the operator's limits: the body goes to the model as it is, so what costs money is checked or capped here
        var limitErrors = ApplyLimits(body, llm.Value);
        if (limitErrors.Count > 0) return TypedResults.ValidationProblem(limitErrors);
        var learnOn = learnAsked ?? await Tenancy.SettingsApi.ProxyLearningAsync(db, caller.TenantId, ct);
        // Refused before the model is paid for; the enqueue after the reply checks again under the owner's lock.
        if (learnOn && !await learning.HasRoomAsync(caller.TenantId, userId, ct)) return TypedResults.Problem(LearningJobs.QueueFull(http.Response));
        var observedAt = clock.GetUtcNow();
        LearnExchange? learn = learnOn
            ? (reply, token) => ChatApi.EnqueueLearningAsync(learning, caller, userId, turns, reply, observedAt, null, token)
            : null;

        // 3. the user's context, prepended as a system message
        var template = await builder.TenantTemplateAsync(caller.TenantId, ct);
        var spec = new ContextSpec(new Owner(caller.TenantId, userId), ContextBuilder.QueryFrom(turns), ContextApi.DefaultTokenBudget,
            ContextSections.All.ToHashSet(), ContextFormat.Text, template);
        var context = await builder.BuildAsync(spec, ct);
        var messages = body["messages"]!.AsArray();
        if (context is { SystemPrompt.Length: > 0 })
            messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = context.SystemPrompt });
        var stream = body["stream"] is JsonValue s && s.TryGetValue<bool>(out var on) && on;
        http.Response.Headers[MemoryIdsHeader] = string.Join(",", context?.Memories.Select(i => i.Memory!.Id) ?? []);

        // 4. send it on; errors before the first byte are problems, after it an OpenAI-style error event. An OpenAI-compatible
        //    model gets the body as it is; any other provider the same request through its IChatClient, answered in OpenAI's shape.
        if (services.GetService<OpenAiPassThrough>() is { } passThrough)
            return await PassThroughAsync(http, body, passThrough, stream, learn, logger, ct);
        if (OpenAiShapes.ToChat(body, errors) is not { } request) return TypedResults.ValidationProblem(errors);
        return await TranslatedAsync(http, request.Messages, request.Options, chat, stream, learn, logger, ct);
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> PassThroughAsync(
        HttpContext http, JsonObject body, OpenAiPassThrough model, bool stream, LearnExchange? learn,
        ILogger logger, CancellationToken ct)
    {
        RawChatResponse raw;
        try
        {
            raw = await model.SendRawAsync(BinaryData.FromString(body.ToJsonString()), stream, ct);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            return await ModelFailedAsync(http, ex, learn, ct);
        }
        using (raw)
        {
            if (!stream)
            {
                var content = raw.Content.ToString();
                await LearnBeforeReplyAsync(http, learn, ReplyOf(content), ct);
                return TypedResults.Content(content, "application/json", Encoding.UTF8);
            }

            StartEventStream(http);
            var reply = learn is null ? null : new StringBuilder();
            try
            {
                await foreach (var line in raw.ReadLinesAsync())
                {
                    await http.Response.WriteAsync(line + "\n", ct);
                    if (line.Length == 0) await http.Response.Body.FlushAsync(ct);
                    if (reply is not null) AppendDelta(reply, line);
                }
            }
            catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
            {
                await WriteStreamErrorAsync(http, ex, logger, ct);
            }
            await http.Response.Body.FlushAsync(ct);
            await LearnAfterStreamAsync(learn, reply, logger);
            return TypedResults.Empty;
        }
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> TranslatedAsync(
        HttpContext http, List<ChatMessage> messages, ChatOptions options, IChatClient chat, bool stream,
        LearnExchange? learn, ILogger logger, CancellationToken ct)
    {
        if (!stream)
        {
            ChatResponse response;
            try
            {
                response = await chat.GetResponseAsync(messages, options, ct);
            }
            catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
            {
                return await ModelFailedAsync(http, ex, learn, ct);
            }
            await LearnBeforeReplyAsync(http, learn, response.Text is { Length: > 0 } text ? text : null, ct);
            return TypedResults.Content(OpenAiShapes.Completion(response), "application/json", Encoding.UTF8);
        }

        var (updates, any, failure) = await ChatApi.StartStreamAsync(chat, messages, options, ct);
        if (failure is not null) return await ModelFailedAsync(http, failure, learn, ct);
        StartEventStream(http);
        var reply = learn is null ? null : new StringBuilder();
        try
        {
            await foreach (var chunk in OpenAiShapes.Chunks(updates!, any, ct))
            {
                var line = $"data: {chunk}";
                await http.Response.WriteAsync(line + "\n\n", ct);
                await http.Response.Body.FlushAsync(ct);
                if (reply is not null) AppendDelta(reply, line);
            }
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            await WriteStreamErrorAsync(http, ex, logger, ct);
        }
        await http.Response.Body.FlushAsync(ct);
        await LearnAfterStreamAsync(learn, reply, logger);
        return TypedResults.Empty;
    }

    /// <summary>A model failure before the first byte: a problem; the user's turn is still worth learning (as in chat).</summary>
    private static async Task<ProblemHttpResult> ModelFailedAsync(HttpContext http, Exception ex, LearnExchange? learn, CancellationToken ct)
    {
        http.Response.Headers.Remove(MemoryIdsHeader);
        if (learn is not null) await learn(null, ct);
        return TypedResults.Problem(ChatApi.ModelProblem(ex));
    }

    /// <summary>Recorded before the reply goes out, so the header names a job that exists.</summary>
    private static async Task LearnBeforeReplyAsync(HttpContext http, LearnExchange? learn, string? reply, CancellationToken ct)
    {
        if (learn is not null && await learn(reply, ct) is { } jobId) http.Response.Headers[LearningJobHeader] = jobId.ToString();
    }

    /// <summary>
    /// The reply has gone out: a failure to record the job is logged, never a broken stream. The client may hang up as soon
    /// as it has read [DONE], so the job is recorded on a token of its own (bounded), not the request's.
    /// </summary>
    private static async Task LearnAfterStreamAsync(LearnExchange? learn, StringBuilder? reply, ILogger logger)
    {
        if (learn is null || reply is null) return;
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await learn(reply.Length > 0 ? reply.ToString() : null, bounded.Token);
        }
        catch (Exception ex)
        {
            logger.LogWarning("The learning job of a streamed proxy exchange could not be recorded: {Message}", ex.Message);
        }
    }

    private static void StartEventStream(HttpContext http)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    private static async Task WriteStreamErrorAsync(HttpContext http, Exception ex, ILogger logger, CancellationToken ct)
    {
        logger.LogWarning("The model failed mid-stream: {Message}", ex.Message);
        var error = new JsonObject { ["error"] = new JsonObject { ["message"] = ex.Message, ["type"] = "upstream_error" } };
        await http.Response.WriteAsync($"\ndata: {error.ToJsonString()}\n\n", ct);
    }

    /// <summary>
    /// Refuses what Llm:AllowedModels, Llm:AllowTools and the one-choice rule do not allow, fills in the default model and
    /// lowers max_tokens / max_completion_tokens to Llm:MaxOutputTokens (adding max_completion_tokens, the field OpenAI's
    /// SDK sends, when the request has neither). Returns field errors; the body is changed only when there are none.
    /// </summary>
    internal static Dictionary<string, string[]> ApplyLimits(JsonObject body, LlmOptions llm)
    {
        var errors = new Dictionary<string, string[]>();
        switch (body["model"])
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue<string>(out var name):
                if (!llm.IsAllowedModel(name)) MemoryValidation.Add(errors, "model", llm.ModelNotAllowed(name));
                break;
            default:
                MemoryValidation.Add(errors, "model", "A model name (string).");
                break;
        }
        // n > 1 asks the model for several answers at once: that many times the output, of which chat shows one.
        if (body["n"] is { } n && !(n is JsonValue nv && nv.TryGetValue<long>(out var count) && count == 1))
            MemoryValidation.Add(errors, "n", "Only one choice per request: leave n out or set it to 1.");
        if (!llm.AllowTools)
            foreach (var field in new[] { "tools", "functions" })
                if (body[field] is { } tools && tools is not JsonArray { Count: 0 })
                    MemoryValidation.Add(errors, field, "Tool calling is turned off on this service (Llm:AllowTools); send the request without tools.");
        var limits = new[] { "max_tokens", "max_completion_tokens" }.Where(f => body[f] is not null).ToList();
        foreach (var field in limits)
            if (!(body[field] is JsonValue mv && mv.TryGetValue<long>(out var asked) && asked >= 1))
                MemoryValidation.Add(errors, field, "A whole number of tokens, at least 1.");
        if (errors.Count > 0) return errors;

        body["model"] ??= llm.Model;
        foreach (var field in limits)
            if (body[field]!.GetValue<long>() > llm.MaxOutputTokens) body[field] = llm.MaxOutputTokens;
        if (limits.Count == 0) body["max_completion_tokens"] = llm.MaxOutputTokens;
        return errors;
    }

    /// <summary>The assistant's text in a chat completion (first choice), or null.</summary>
    private static string? ReplyOf(string completion)
    {
        try
        {
            return FirstChoice(JsonNode.Parse(completion))?["message"]?["content"] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Adds the content delta of one SSE line ("data: {chunk}") to the reply, up to what learning keeps of a turn.</summary>
    private static void AppendDelta(StringBuilder reply, string line)
    {
        if (!line.StartsWith("data:", StringComparison.Ordinal) || reply.Length >= MaxLearnedReplyChars) return;
        var data = line.AsSpan(5).Trim();
        if (data.Length == 0 || data.SequenceEqual("[DONE]")) return;
        try
        {
            if (FirstChoice(JsonNode.Parse(data.ToString()))?["delta"]?["content"] is JsonValue v && v.TryGetValue<string>(out var text))
                reply.Append(text);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Not a chunk (a comment or a model's own error event): nothing to learn from it.
        }
    }

    /// <summary>choices[0] of a completion or chunk; null when there is none (the last chunk, with usage, has none).</summary>
    private static JsonNode? FirstChoice(JsonNode? completion) =>
        completion is JsonObject o && o["choices"] is JsonArray { Count: > 0 } choices ? choices[0] : null;

    /// <summary>More than any learned turn keeps (Learning:MaxMessageChars cuts again), so a long stream costs bounded memory.</summary>
    private const int MaxLearnedReplyChars = 100_000;

    /// <summary>The turns as text (string content or an array of text parts), for the context query.</summary>
    private static List<(string Role, string Content)> Turns(JsonNode? messages, Dictionary<string, string[]> errors)
    {
        var turns = new List<(string, string)>();
        if (messages is not JsonArray array || array.Count == 0)
        {
            MemoryValidation.Add(errors, "messages", "Give a non-empty array of messages.");
            return turns;
        }
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject m || m["role"] is not JsonValue r || !r.TryGetValue<string>(out var role))
            {
                MemoryValidation.Add(errors, $"messages[{i}]", "Each message is an object with a 'role'.");
                continue;
            }
            var content = m["content"] switch
            {
                JsonValue v when v.TryGetValue<string>(out var text) => text,
                JsonArray parts => string.Join(" ", parts.OfType<JsonObject>().Select(p => p["text"] is JsonValue t && t.TryGetValue<string>(out var x) ? x : null)
                    .Where(x => x is not null)),
                _ => "",
            };
            turns.Add((role, content));
        }
        return turns;
    }
}
