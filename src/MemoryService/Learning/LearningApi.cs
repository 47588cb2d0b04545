using System.ComponentModel;
using System.Text.Json.Serialization;
using MemoryService.Embeddings;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace MemoryService.Learning;

public static class LearningApi
{
    public sealed record MessageRequest(
        [property: Description("user, assistant or system.")] string? Role,
        [property: Description("1-8,000 characters.")] string? Content);

    public sealed record ExtractRequest(
        [property: Description("The conversation in order, 1-100 messages. Only the user's own words become memories.")] IReadOnlyList<MessageRequest?>? Messages,
        [property: Description("When the conversation took place, with the user's UTC offset; relative dates (\"tomorrow\") resolve on that local day. Default now.")]
        [property: JsonConverter(typeof(OffsetKeepingConverter))] DateTimeOffset? ObservedAt = null,
        [property: Description("Decide and answer, but write nothing. Default false.")] bool? DryRun = null,
        [property: Description("The user's IANA time zone (e.g. Europe/Rome); when given, relative dates resolve on the local day there. Default: the offset of observed_at, else UTC.")] string? TimeZone = null,
        [property: Description("The app's id of the conversation (1-200 characters): a request about answers (\"shorter, please\") repeated in calls with the same id counts once towards a learned preference. Default: this call is a conversation of its own.")] string? ConversationId = null);

    public sealed record CandidateResponse(MemoryKind Kind, string Content, string Key, double Importance, double Confidence,
        [property: Description("The local midnight of a plan's or past event's day, with the conversation's offset.")]
        [property: JsonConverter(typeof(OffsetKeepingConverter))] DateTimeOffset? EventDate, string Evidence);

    public sealed record DecisionResponse(
        [property: Description("add, noop, update, supersede, or promote (a request repeated across conversations became a standing preference).")] LearningAction Action,
        CandidateResponse Candidate,
        [property: Description("The memories touched: for add, supersede and promote the new memory first, then the superseded ones. A dry run lists only existing memories.")] IReadOnlyList<Guid> MemoryIds,
        string Reason,
        [property: Description("For a preference learned from behaviour: the supporting turns, one per conversation, oldest first; else null.")] IReadOnlyList<SupportingTurnResponse>? Supporting = null);

    public sealed record SupportingTurnResponse(string ConversationId, DateTimeOffset ObservedAt, string Text);

    public sealed record FailureResponse(string Text, string Reason);

    public sealed record ExtractResponse(IReadOnlyList<DecisionResponse> Decisions, IReadOnlyList<FailureResponse> Failed, bool DryRun);

    public static RouteGroupBuilder MapLearning(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/users/{user_id}/memories").WithTags("Learning")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        group.MapPost("/extract", Extract).WithName("ExtractMemories")
            .WithSummary("Learn from a conversation: extract memories and add, confirm (noop), update or supersede the user's current ones.");
        app.MapLearningJobs();
        return group;
    }

    internal static async Task<Results<Ok<ExtractResponse>, ValidationProblem>> Extract(
        [Description("The client's user id.")] string user_id, ExtractRequest request, Caller caller, IConversationLearner learner,
        IOptions<LearningOptions> options, TimeProvider clock, CancellationToken ct)
    {
        var errors = Validate(user_id, request, options.Value);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var dryRun = request.DryRun ?? false;
        var messages = request.Messages!.Select(m => new ConversationMessage(m!.Role!.ToLowerInvariant(), m.Content!)).ToList();
        var observedAt = TimeZones.LocalTime(request.ObservedAt ?? clock.GetUtcNow(), request.TimeZone);
        var outcome = await learner.LearnAsync(caller.TenantId, user_id, messages, observedAt, dryRun,
            caller.KeyId.ToString(), cancellationToken: ct, conversation: request.ConversationId);
        return TypedResults.Ok(new ExtractResponse(
            outcome.Decisions.Select(d => new DecisionResponse(d.Action, AsResponse(d.Candidate), d.MemoryIds, d.Reason,
                d.Supporting?.Select(x => new SupportingTurnResponse(x.Conversation, x.ObservedAt, x.Evidence)).ToList())).ToList(),
            outcome.Failed.Select(f => new FailureResponse(f.Text, f.Reason)).ToList(),
            dryRun));
    }

    private static CandidateResponse AsResponse(MemoryCandidate c) =>
        new(c.Kind, c.Content, c.Key, Math.Round(c.Importance, 4), Math.Round(c.Confidence, 4), c.EventDate, c.Evidence);

    private static Dictionary<string, string[]> Validate(string userId, ExtractRequest r, LearningOptions o)
    {
        var errors = new Dictionary<string, string[]>();
        if (AppUser.Validate(userId) is { } userError) MemoryValidation.Add(errors, "user_id", userError);
        if (r.TimeZone is not null && TimeZones.Find(r.TimeZone, out var zoneError) is null) MemoryValidation.Add(errors, "time_zone", zoneError!);
        if (r.ConversationId is not null && (string.IsNullOrWhiteSpace(r.ConversationId) || r.ConversationId.Length > 200))
            MemoryValidation.Add(errors, "conversation_id", "1-200 characters, not blank.");
        if (r.Messages is null || r.Messages.Count == 0 || r.Messages.Count > o.MaxMessages)
        {
            MemoryValidation.Add(errors, "messages", $"Give 1-{o.MaxMessages} messages.");
            return errors;
        }
        for (var i = 0; i < r.Messages.Count; i++)
        {
            var m = r.Messages[i];
            if (m is null) { MemoryValidation.Add(errors, $"messages[{i}]", "Must be an object with role and content."); continue; }
            if (m.Role?.ToLowerInvariant() is not (ConversationMessage.User or ConversationMessage.Assistant or ConversationMessage.System))
                MemoryValidation.Add(errors, $"messages[{i}].role", "One of user, assistant, system.");
            if (string.IsNullOrWhiteSpace(m.Content) || m.Content.Length > o.MaxMessageChars)
                MemoryValidation.Add(errors, $"messages[{i}].content", $"1-{o.MaxMessageChars} characters, not blank.");
        }
        return errors;
    }

    /// <summary>
    /// Registers learning. The extractor and the decision advisor are chosen once: the chat model's when an
    /// <see cref="IChatClient"/> is registered (Llm:Provider), else the built-in rules.
    /// </summary>
    public static IHostApplicationBuilder AddLearning(this IHostApplicationBuilder builder)
    {
        // The embedding model's defaults first, so keys set in configuration override them.
        builder.Services.AddOptions<LearningOptions>()
            .Configure<IOptions<EmbeddingsOptions>>((o, e) => EmbeddingProfile.For(e.Value).ApplyTo(o))
            .BindConfiguration("Learning").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IMemoryExtractor>(sp => sp.GetService<IChatClient>() is { } chat
            ? new LlmMemoryExtractor(chat, sp.GetRequiredService<ILogger<LlmMemoryExtractor>>())
            : new RuleBasedMemoryExtractor());
        builder.Services.AddSingleton<IDecisionAdvisor>(sp => sp.GetService<IChatClient>() is { } chat
            ? new LlmDecisionAdvisor(chat, sp.GetRequiredService<ILogger<LlmDecisionAdvisor>>())
            : new RulesOnlyAdvisor());
        builder.Services.AddScoped<IConversationLearner, LearningPipeline>();
        builder.Services.AddOptions<LearningJobsOptions>().BindConfiguration("Learning:Jobs").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<LearningJobs>();
        builder.Services.AddHostedService<LearningJobRunner>();
        builder.Services.AddHostedService<ExtractorWarmUp>();
        return builder;
    }

    /// <summary>
    /// Builds the built-in extractor's linear-time automata in the background at start, so the first conversation
    /// read does not pay for constructing some 70 patterns (about a second on one core).
    /// </summary>
    private sealed class ExtractorWarmUp(IMemoryExtractor extractor, ILogger<ExtractorWarmUp> logger) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => extractor is not RuleBasedMemoryExtractor rules
            ? Task.CompletedTask
            : Task.Run(async () =>
            {
                await rules.ExtractAsync([new ConversationMessage(ConversationMessage.User,
                    "Hi! I'm Sam, I live in Paris and I love tea, thanks. I'm flying to Rome next Friday at 9am.")], DateTimeOffset.UtcNow, stoppingToken);
                logger.LogDebug("Built-in extractor ready");
            }, stoppingToken);
    }
}
