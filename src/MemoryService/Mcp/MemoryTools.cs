using System.ComponentModel;
using System.Text.Json.Nodes;
using MemoryService.Context;
using MemoryService.Hosting;
using MemoryService.Learning;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tenancy;
using MemoryService.Users;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace MemoryService.Mcp;

/// <summary>
/// The MCP tools. Each one resolves the caller (tenant key) and the user (X-User-Id) and calls the implementation the
/// matching REST endpoint uses, so validation, limits, wording and behaviour are the REST API's.
/// </summary>
[McpServerToolType]
public static class MemoryTools
{
    public const string UserHeader = Chat.OpenAiProxyApi.UserHeader;

    public sealed record ForgetResponse(Guid Id, bool Deleted);

    [McpServerTool(Name = "remember", Title = "Remember", Destructive = false, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(MemoryResponse))]
    [Description("Store one memory about the user: a short statement such as \"Prefers tea over coffee\". Returns the stored memory with its id.")]
    public static Task<CallToolResult> Remember(IHttpContextAccessor http, MemoryStore store, IOptions<MemoriesOptions> options,
        [Description("The memory as one short statement in the third person, e.g. \"Is allergic to peanuts\". At most 4 KB.")] string content,
        [Description("preference (likes, dislikes, how they want answers), fact (about them or their world) or event (something that happened or is planned). Default fact.")] MemoryKind? kind = null,
        [Description("A stable topic such as diet or response_style, so a later memory on the same topic can replace this one.")] string? key = null,
        [Description("Labels to filter on later.")] string[]? tags = null,
        [Description("How much this matters, 0 to 1; default 0.5.")] double? importance = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (caller, owner) => await MemoriesApi.Create(owner,
            new CreateMemoryRequest(content, kind, key, tags, Importance: importance), caller, store, options.Value, null, cancellationToken));

    [McpServerTool(Name = "recall", Title = "Recall", ReadOnly = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(RetrievalApi.SearchResponse))]
    [Description("Search the user's memories (and the app's knowledge) for what is relevant to a question; best first, with ids and scores.")]
    public static Task<CallToolResult> Recall(IHttpContextAccessor http, SearchPipeline pipeline,
        [Description("What to look for, in natural language. 1-2,000 characters.")] string query,
        [Description("How many results, 1-100; default 10.")] int? limit = null,
        [Description("Only these kinds: preference, fact, event, knowledge.")] MemoryKind[]? kinds = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (_, owner) => await RetrievalApi.Search(owner, new RetrievalApi.SearchRequest(query, limit, kinds), pipeline, cancellationToken));

    [McpServerTool(Name = "get_context", Title = "Get context", ReadOnly = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(ContextApi.ContextResponse))]
    [Description("Build a system prompt from what is known about the user, for the conversation's current topic, within a token budget. Returns the prompt text and the ids of the memories used.")]
    public static Task<CallToolResult> GetContext(IHttpContextAccessor http, ContextBuilder builder,
        [Description("What the conversation is about now; 1-2,000 characters. Leave out for the user's most important memories.")] string? query = null,
        [Description("Most tokens the prompt may take (cl100k estimate), 1-100,000; default 800.")] int? token_budget = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (caller, owner) => await ContextApi.Build(owner.UserId!, new ContextApi.ContextRequest(query, TokenBudget: token_budget),
            caller, builder, cancellationToken));

    [McpServerTool(Name = "learn", Title = "Learn from conversation", Destructive = false, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(LearningApi.ExtractResponse))]
    [Description("Learn from conversation turns: extracts what the user said about themselves and adds, confirms (noop), updates or supersedes their memories. Returns each decision.")]
    public static Task<CallToolResult> Learn(IHttpContextAccessor http, IConversationLearner learner, IOptions<LearningOptions> options, TimeProvider clock,
        [Description("The conversation in order, 1-100 messages with role (user, assistant or system) and content. Only the user's own words become memories.")]
        IReadOnlyList<LearningApi.MessageRequest?> messages,
        [Description("The user's IANA time zone, e.g. Europe/Rome, so \"tomorrow\" resolves on their local day. Default UTC.")] string? time_zone = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (caller, owner) => await LearningApi.Extract(owner.UserId!, new LearningApi.ExtractRequest(messages, TimeZone: time_zone),
            caller, learner, options, clock, cancellationToken));

    [McpServerTool(Name = "update_memory", Title = "Update memory", Destructive = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(MemoryResponse))]
    [Description("Change one of the user's memories: give its id and only the fields to change. Returns the memory as it is now.")]
    public static Task<CallToolResult> UpdateMemory(IHttpContextAccessor http, MemoryStore store, IOptions<MemoriesOptions> options,
        [Description("The memory's id, as recall or list_memories return it.")] string id,
        [Description("The new statement.")] string? content = null,
        [Description("New importance, 0 to 1.")] double? importance = null,
        [Description("The new labels (replace the old ones).")] string[]? tags = null,
        [Description("A new topic key.")] string? key = null,
        [Description("When the memory stops being served (ISO 8601).")] DateTimeOffset? expires_at = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (caller, owner) =>
        {
            if (!Guid.TryParse(id, out var memoryId)) return TypedResults.Problem(Problems.NotFound("memory"));
            var patch = new JsonObject();
            if (content is not null) patch["content"] = content;
            if (importance is not null) patch["importance"] = importance;
            if (tags is not null) patch["tags"] = new JsonArray([.. tags.Select(t => (JsonNode?)JsonValue.Create(t))]);
            if (key is not null) patch["key"] = key;
            if (expires_at is not null) patch["expires_at"] = JsonValue.Create(expires_at.Value);
            return await MemoriesApi.ApplyPatch(owner, memoryId, patch, null, caller, store, options.Value, null, cancellationToken);
        });

    [McpServerTool(Name = "forget", Title = "Forget", Destructive = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(ForgetResponse))]
    [Description("Delete one of the user's memories by id, for good.")]
    public static Task<CallToolResult> Forget(IHttpContextAccessor http, MemoryStore store,
        [Description("The memory's id, as recall or list_memories return it.")] string id,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (caller, owner) => Guid.TryParse(id, out var memoryId)
            ? await MemoriesApi.Delete(owner, memoryId, null, caller, store, cancellationToken)
            : TypedResults.Problem(Problems.NotFound("memory")),
            () => new ForgetResponse(Guid.Parse(id), true));

    [McpServerTool(Name = "list_memories", Title = "List memories", ReadOnly = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(ListResponse<MemoryResponse>))]
    [Description("List the user's current memories, newest first, optionally of one kind or key. Pass next_cursor back as cursor for the next page.")]
    public static Task<CallToolResult> ListMemories(IHttpContextAccessor http, MemoryStore store,
        [Description("Only this kind: preference, fact or event.")] string? kind = null,
        [Description("Only memories with this topic key.")] string? key = null,
        [Description("1-200, default 50.")] int? limit = null,
        [Description("next_cursor of the previous page.")] string? cursor = null,
        CancellationToken cancellationToken = default) =>
        ForUser(http, async (_, owner) => await MemoriesApi.List(owner, new MemoriesApi.ListQuery(Kind: kind, Key: key, Limit: limit, Cursor: cursor),
            store, cancellationToken));

    [McpServerTool(Name = "search_knowledge", Title = "Search knowledge", ReadOnly = true, OpenWorld = false, UseStructuredContent = true,
        OutputSchemaType = typeof(RetrievalApi.SearchResponse))]
    [Description("Search the app's shared knowledge (policies, product facts; not the user's memories), best first.")]
    public static async Task<CallToolResult> SearchKnowledge(IHttpContextAccessor http, SearchPipeline pipeline,
        [Description("What to look for, in natural language. 1-2,000 characters.")] string query,
        [Description("How many results, 1-100; default 10.")] int? limit = null,
        CancellationToken cancellationToken = default)
    {
        var context = Http(http);
        var caller = context.GetCaller();
        return await ToolResults.RunAsync(context.RequestServices, async () => await RetrievalApi.Search(new Owner(caller.TenantId, null),
            new RetrievalApi.SearchRequest(query, limit), pipeline, cancellationToken));
    }

    /// <summary>Runs a user tool for the session's caller and user; without a valid X-User-Id it is a tool error.</summary>
    private static async Task<CallToolResult> ForUser(IHttpContextAccessor accessor, Func<Caller, Owner, Task<IResult>> handler,
        Func<object>? noContent = null)
    {
        var http = Http(accessor);
        var userId = http.Request.Headers[UserHeader].ToString();
        var error = userId.Length == 0 ? $"Say whose memory to use: configure the MCP client to send the {UserHeader} header." : AppUser.Validate(userId);
        if (error is not null)
            return ToolResults.Problem(new HttpValidationProblemDetails(Problems.Field(UserHeader, error)) { Status = StatusCodes.Status400BadRequest },
                http.RequestServices);
        var caller = http.GetCaller();
        return await ToolResults.RunAsync(http.RequestServices, () => handler(caller, new Owner(caller.TenantId, userId)), noContent);
    }

    private static HttpContext Http(IHttpContextAccessor accessor) =>
        accessor.HttpContext ?? throw new InvalidOperationException("MCP tools run inside the HTTP request that called them (stateless transport).");
}
