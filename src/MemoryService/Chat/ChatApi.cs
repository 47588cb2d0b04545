using System.ComponentModel;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using MemoryService.Context;
using MemoryService.Hosting;
using MemoryService.Learning;
using MemoryService.Llm;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using static MemoryService.Context.ContextApi;

namespace MemoryService.Chat;

/// <summary>Chat with memory: POST /v1/users/{user_id}/chat, plain JSON or Server-Sent Events.</summary>
public static class ChatApi
{
    public sealed record ChatRequest(
        [property: Description("The conversation so far, oldest first; the last user turn is what is answered.")] IReadOnlyList<ContextMessage>? Messages,
        [property: Description("Model override: Llm:Model or one of Llm:AllowedModels; default Llm:Model.")] string? Model = null,
        [property: Description("Stream the reply as Server-Sent Events.")] bool? Stream = null,
        [property: Description("Learn memories from this exchange after replying: a learning job is recorded before the reply returns and runs in the background.")] bool? Learn = null,
        [property: Description("Token budget of the memory context; default 800.")] int? TokenBudget = null,
        [property: Description("Sampling temperature, 0-2.")] double? Temperature = null,
        [property: Description("Most tokens the model may write; at most Llm:MaxOutputTokens (a larger value is lowered to it).")] int? MaxTokens = null,
        [property: Description("The user's IANA time zone (e.g. Europe/Rome): what is learned resolves \"tomorrow\" on the local day there. Default UTC.")] string? TimeZone = null);

    public sealed record ChatMessageResponse(string Role, string Content);

    public sealed record ChatUsageResponse(long? InputTokens, long? OutputTokens, long? TotalTokens);

    public sealed record ChatTurnResponse(ChatMessageResponse Message, string? Model, IReadOnlyList<Guid> MemoryIds, int ContextTokens,
        ChatUsageResponse? Usage,
        [property: Description("True when a learning job was recorded for this exchange.")] bool Learning,
        [property: Description("The recorded learning job (GET /v1/users/{user_id}/learning lists it until it is learned).")] Guid? LearningJobId = null);

    /// <summary>One SSE event: "delta" carries content, the final "done" the memory ids (and the learning job), "error" a failure mid-stream.</summary>
    public sealed record ChatStreamEvent(string Type, string? Content = null, IReadOnlyList<Guid>? MemoryIds = null, string? Model = null,
        int? Status = null, string? Detail = null, Guid? LearningJobId = null);

    /// <summary>Chat needs nothing of its own: learning jobs (learn: true) are registered by AddLearning.</summary>
    public static IHostApplicationBuilder AddChat(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapChat(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/users/{user_id}/chat", Chat).WithTags("Chat")
            .WithName("Chat").WithSummary("Answer the conversation with the user's memory as context; JSON or Server-Sent Events.")
            .Produces<ChatStreamEvent>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout);
        app.MapOpenAiProxy();
        return app;
    }

    private static async Task<Results<Ok<ChatTurnResponse>, ServerSentEventsResult<ChatStreamEvent>, ValidationProblem, ProblemHttpResult>> Chat(
        [Description("The client's user id.")] string user_id, ChatRequest request, Caller caller, ContextBuilder builder, LearningJobs learning,
        IServiceProvider services, IOptions<LlmOptions> llm, TimeProvider clock, ILogger<ChatRequest> logger, HttpResponse http, CancellationToken ct)
    {
        // 1. validate, and make sure there is a model to talk to
        var errors = new Dictionary<string, string[]>();
        if (AppUser.Validate(user_id) is { } userError) MemoryValidation.Add(errors, "user_id", userError);
        var turns = request.Messages?.Where(m => m is not null).Select(m => (Role: m.Role ?? "", Content: m.Content ?? "")).ToList() ?? [];
        if (request.Messages is null || request.Messages.Count == 0) MemoryValidation.Add(errors, "messages", "Give at least one message.");
        else if (!turns.Any(t => t.Role == "user")) MemoryValidation.Add(errors, "messages", "Include at least one user turn.");
        if (request.Temperature is { } temperature && (double.IsNaN(temperature) || temperature is < 0 or > 2))
            MemoryValidation.Add(errors, "temperature", "Between 0 and 2.");
        if (request.MaxTokens is < 1) MemoryValidation.Add(errors, "max_tokens", "At least 1.");
        if (request.Model is { Length: 0 or > 200 }) MemoryValidation.Add(errors, "model", "1-200 characters.");
        if (request.TimeZone is not null && TimeZones.Find(request.TimeZone, out var zoneError) is null) MemoryValidation.Add(errors, "time_zone", zoneError!);
        var owner = new Owner(caller.TenantId, user_id);
        var spec = await ValidateAsync(owner, new ContextRequest(Messages: request.Messages, TokenBudget: request.TokenBudget), builder, errors, ct);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        if (services.GetService<IChatClient>() is not { } model) return TypedResults.Problem(NotConfigured());
        // Checked once a model is configured, so a service without one still says so (503) rather than naming models.
        if (request.Model is { } named && !llm.Value.IsAllowedModel(named))
            return TypedResults.ValidationProblem(Problems.Field("model", llm.Value.ModelNotAllowed(named)));
        var learn = request.Learn == true;
        // Refused before the model is paid for; the enqueue after the reply checks again under the owner's lock.
        if (learn && !await learning.HasRoomAsync(caller.TenantId, user_id, ct)) return TypedResults.Problem(LearningJobs.QueueFull(http));

        // 2. build the memory context from the latest user turn and a little before it
        var context = await builder.BuildAsync(spec!, ct);
        if (context is null) return TypedResults.Problem(TooSmall(spec!, builder));
        var memoryIds = context.Memories.Select(i => i.Memory!.Id).ToList();

        // 3. system prompt + the conversation to the model
        List<ChatMessage> messages = [new(ChatRole.System, context.SystemPrompt), .. turns.Select(t => new ChatMessage(new ChatRole(t.Role), t.Content))];
        var options = new ChatOptions { ModelId = request.Model, Temperature = (float?)request.Temperature, MaxOutputTokens = request.MaxTokens };
        var observedAt = clock.GetUtcNow();
        Task<Guid?> Learn(string? reply, CancellationToken token) => EnqueueLearningAsync(learning, caller, user_id, turns, reply, observedAt, request.TimeZone, token);

        if (request.Stream == true)
        {
            var (updates, any, failure) = await StartStreamAsync(model, messages, options, ct);
            if (failure is not null)
            {
                if (learn) await Learn(null, ct);
                return TypedResults.Problem(ModelProblem(failure));
            }
            return TypedResults.ServerSentEvents(Stream(updates!, any, memoryIds, learn ? Learn : null, logger));
        }

        Microsoft.Extensions.AI.ChatResponse response;
        try
        {
            response = await model.GetResponseAsync(messages, options, ct);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            // The user's turn is worth learning even when the model failed.
            if (learn) await Learn(null, ct);
            return TypedResults.Problem(ModelProblem(ex));
        }
        var jobId = learn ? await Learn(response.Text, ct) : null;
        return TypedResults.Ok(new ChatTurnResponse(new ChatMessageResponse("assistant", response.Text), response.ModelId, memoryIds,
            context.TokenCount, response.Usage is { } u ? new ChatUsageResponse(u.InputTokenCount, u.OutputTokenCount, u.TotalTokenCount) : null,
            jobId is not null, jobId));
    }

    /// <summary>
    /// Starts a streamed reply and awaits its first update, so a model that is down or slow is still a 502/504 problem
    /// rather than a broken stream: either the updates (positioned on the first, Any false when there was none) or the failure.
    /// </summary>
    internal static async Task<(IAsyncEnumerator<ChatResponseUpdate>? Updates, bool Any, Exception? Failure)> StartStreamAsync(
        IChatClient model, IEnumerable<ChatMessage> messages, ChatOptions options, CancellationToken ct)
    {
        var updates = model.GetStreamingResponseAsync(messages, options, ct).GetAsyncEnumerator(ct);
        try
        {
            return (updates, await updates.MoveNextAsync(), null);
        }
        catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
        {
            await updates.DisposeAsync();
            return (null, false, ex);
        }
    }

    private static async IAsyncEnumerable<SseItem<ChatStreamEvent>> Stream(IAsyncEnumerator<ChatResponseUpdate> updates, bool any,
        IReadOnlyList<Guid> memoryIds, Func<string?, CancellationToken, Task<Guid?>>? learn, ILogger logger, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var reply = new StringBuilder();
        string? modelId = null;
        ChatStreamEvent? failure = null;
        try
        {
            while (any)
            {
                var update = updates.Current;
                modelId ??= update.ModelId;
                if (update.Text is { Length: > 0 } text)
                {
                    reply.Append(text);
                    yield return new SseItem<ChatStreamEvent>(new ChatStreamEvent("delta", Content: text), "delta");
                }
                try
                {
                    any = await updates.MoveNextAsync();
                }
                catch (Exception ex) when (ex is ModelFailedException or ModelTimeoutException)
                {
                    logger.LogWarning("The model failed mid-stream: {Message}", ex.Message);
                    var problem = ModelProblem(ex);
                    failure = new ChatStreamEvent("error", Status: problem.Status, Detail: problem.Detail);
                    any = false;
                }
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }
        // Recorded before the final event, so a client that saw "done" with a job id can rely on the job. The reply has
        // gone out already: a database failure here ends the stream with an error event rather than cutting it off.
        Guid? jobId = null;
        if (learn is not null)
        {
            try
            {
                jobId = await learn(reply.Length > 0 ? reply.ToString() : null, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("The learning job of a streamed chat could not be recorded: {Message}", ex.Message);
                failure ??= new ChatStreamEvent("error", Status: StatusCodes.Status503ServiceUnavailable,
                    Detail: "The reply was sent, but the learning job could not be recorded; this exchange will not be learned.");
            }
        }
        if (failure is not null) yield return new SseItem<ChatStreamEvent>(failure with { MemoryIds = memoryIds, LearningJobId = jobId }, "error");
        else yield return new SseItem<ChatStreamEvent>(new ChatStreamEvent("done", Content: reply.ToString(), MemoryIds: memoryIds, Model: modelId,
            LearningJobId: jobId), "done");
    }

    /// <summary>
    /// Records the exchange to learn from: the assistant turn before the latest user turn (for context), that turn,
    /// and the reply. Null when the user's learning jobs are at their cap. The exchange's conversation is named by
    /// its first user turn (hashed), so a request repeated within one chat counts once towards a learned preference.
    /// </summary>
    internal static async Task<Guid?> EnqueueLearningAsync(LearningJobs jobs, Caller caller, string userId,
        IReadOnlyList<(string Role, string Content)> turns, string? reply, DateTimeOffset now, string? timeZone, CancellationToken ct)
    {
        var last = turns.ToList().FindLastIndex(t => t.Role == "user");
        if (last < 0) return null;
        var exchange = new List<ConversationMessage>();
        if (last > 0 && turns[last - 1].Role == "assistant") exchange.Add(new ConversationMessage(ConversationMessage.Assistant, turns[last - 1].Content));
        exchange.Add(new ConversationMessage(ConversationMessage.User, turns[last].Content));
        if (!string.IsNullOrEmpty(reply)) exchange.Add(new ConversationMessage(ConversationMessage.Assistant, reply));
        var conversation = "chat:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(turns.First(t => t.Role == "user").Content)))[..32];
        return await jobs.EnqueueAsync(caller.TenantId, userId, exchange, now, timeZone, caller.KeyId.ToString(), ct, conversation);
    }

    public static ProblemDetails NotConfigured() => new()
    {
        Status = StatusCodes.Status503ServiceUnavailable,
        Title = "No chat model configured",
        Detail = LlmProviders.NotConfigured,
    };

    public static ProblemDetails ModelProblem(Exception ex) => ex is ModelTimeoutException
        ? new ProblemDetails { Status = StatusCodes.Status504GatewayTimeout, Title = "Model timed out", Detail = ex.Message }
        : new ProblemDetails { Status = StatusCodes.Status502BadGateway, Title = "Model failed", Detail = ex.Message };
}
