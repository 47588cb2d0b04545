using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Context;
using MemoryService.Hosting;
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
/// http://host/v1/openai with its tenant key as the API key; the user's context is prepended as a system
/// message and everything else in the request passes through to the configured model, within the Llm limits
/// (allowed models, output-token cap, one choice, tools only when allowed).
/// </summary>
public static class OpenAiProxyApi
{
    public const string UserHeader = "X-User-Id";
    public const string MemoryIdsHeader = "X-Memory-Ids";

    public static IEndpointRouteBuilder MapOpenAiProxy(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/openai/chat/completions", Completions).WithTags("Chat")
            .WithName("OpenAiChatCompletions")
            .WithSummary("OpenAI-compatible chat completions (streaming too) with the user's memory prepended; the user is the 'user' field or X-User-Id.")
            .Accepts<JsonObject>("application/json")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        return app;
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> Completions(
        HttpContext http, Caller caller, ContextBuilder builder, IOptions<LlmOptions> llm, IServiceProvider services,
        ILogger<OpenAiPassThrough> logger, CancellationToken ct)
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
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        if (services.GetService<IChatClient>() is not { } chat) return TypedResults.Problem(ChatApi.NotConfigured());

        // 2. the operator's limits: the body goes to the model as it is, so what costs money is checked or capped here
        var limitErrors = ApplyLimits(body, llm.Value);
        if (limitErrors.Count > 0) return TypedResults.ValidationProblem(limitErrors);

        // 3. the user's context, prepended as a system message
        var template = await builder.TenantTemplateAsync(caller.TenantId, ct);
        var spec = new ContextSpec(new Owner(caller.TenantId, userId), ContextBuilder.QueryFrom(turns), ContextApi.DefaultTokenBudget,
            ContextSections.All.ToHashSet(), ContextFormat.Text, template);
        var context = await builder.BuildAsync(spec, ct);
        var messages = body["messages"]!.AsArray();
        if (context is { SystemPrompt.Length: > 0 })
            messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = context.SystemPrompt });
        var stream = body["stream"] is JsonValue s && s.TryGetValue<bool>(out var on) && on;
        http.Response.Headers[MemoryIdsHeader] = string.Join(",", context?.Items.Select(i => i.Memory.Id) ?? []);

        // 4. send it on; errors before the first byte are problems, after it an OpenAI-style error event. An OpenAI-compatible
        //    model gets the body as it is; any other provider the same request through its IChatClient, answered in OpenAI's shape.
        if (services.GetService<OpenAiPassThrough>() is { } passThrough)
            return await PassThroughAsync(http, body, passThrough, stream, logger, ct);
        if (OpenAiShapes.ToChat(body, errors) is not { } request) return TypedResults.ValidationProblem(errors);
        return await TranslatedAsync(http, request.Messages, request.Options, chat, stream, logger, ct);
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> PassThroughAsync(
        HttpContext http, JsonObject body, OpenAiPassThrough model, bool stream, ILogger logger, CancellationToken ct)
    {
        RawChatResponse raw;
        try
        {
            raw = await model.SendRawAsync(BinaryData.FromString(body.ToJsonString()), stream, ct);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            http.Response.Headers.Remove(MemoryIdsHeader);
            return TypedResults.Problem(ChatApi.ModelProblem(ex));
        }
        using (raw)
        {
            if (!stream) return TypedResults.Content(raw.Content.ToString(), "application/json", Encoding.UTF8);

            StartEventStream(http);
            try
            {
                await foreach (var line in raw.ReadLinesAsync())
                {
                    await http.Response.WriteAsync(line + "\n", ct);
                    if (line.Length == 0) await http.Response.Body.FlushAsync(ct);
                }
            }
            catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
            {
                await WriteStreamErrorAsync(http, ex, logger, ct);
            }
            await http.Response.Body.FlushAsync(ct);
            return TypedResults.Empty;
        }
    }

    private static async Task<Results<ContentHttpResult, EmptyHttpResult, ValidationProblem, ProblemHttpResult>> TranslatedAsync(
        HttpContext http, List<ChatMessage> messages, ChatOptions options, IChatClient chat, bool stream, ILogger logger, CancellationToken ct)
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
                http.Response.Headers.Remove(MemoryIdsHeader);
                return TypedResults.Problem(ChatApi.ModelProblem(ex));
            }
            return TypedResults.Content(OpenAiShapes.Completion(response), "application/json", Encoding.UTF8);
        }

        var (updates, any, failure) = await ChatApi.StartStreamAsync(chat, messages, options, ct);
        if (failure is not null)
        {
            http.Response.Headers.Remove(MemoryIdsHeader);
            return TypedResults.Problem(ChatApi.ModelProblem(failure));
        }
        StartEventStream(http);
        try
        {
            await foreach (var chunk in OpenAiShapes.Chunks(updates!, any, ct))
            {
                await http.Response.WriteAsync($"data: {chunk}\n\n", ct);
                await http.Response.Body.FlushAsync(ct);
            }
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            await WriteStreamErrorAsync(http, ex, logger, ct);
        }
        await http.Response.Body.FlushAsync(ct);
        return TypedResults.Empty;
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
