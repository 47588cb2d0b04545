using System.Text.Json;
using MemoryService.Hosting;
using Microsoft.Extensions.AI;

namespace MemoryService.Learning;

/// <summary>A candidate and the current memories shown with it when asking for a decision.</summary>
public sealed record AdviceRequest(int Index, MemoryCandidate Candidate, IReadOnlyList<KnownMemory> Shown);

/// <summary>A proposed decision as the model gave it: not trusted until the pipeline validates it.</summary>
/// <param name="Event">ADD, UPDATE, DELETE or NONE (Mem0's vocabulary).</param>
/// <param name="Id">The memory it acts on, as the model wrote it.</param>
/// <param name="Reason">The model's short reason.</param>
/// <param name="Problem">Set when the proposal is unusable on its face (e.g. two decisions for one candidate).</param>
public sealed record Advice(string Event, string? Id, string Reason, string? Problem = null);

/// <summary>Proposes reconciliation decisions; the pipeline validates them and falls back to <see cref="ReconcileRules"/>.</summary>
public interface IDecisionAdvisor
{
    /// <summary>Proposals by candidate index; a missing index means no proposal (the rules decide).</summary>
    Task<IReadOnlyDictionary<int, Advice>> AdviseAsync(IReadOnlyList<AdviceRequest> requests, CancellationToken ct);
}

/// <summary>The built-in default: no proposals, so every decision is the rules'.</summary>
public sealed class RulesOnlyAdvisor : IDecisionAdvisor
{
    public Task<IReadOnlyDictionary<int, Advice>> AdviseAsync(IReadOnlyList<AdviceRequest> requests, CancellationToken ct) =>
        Task.FromResult<IReadOnlyDictionary<int, Advice>>(new Dictionary<int, Advice>());
}

/// <summary>
/// Mem0-style update step: the model sees each new fact with the related current memories (by id) and answers
/// ADD, UPDATE, DELETE (contradicted: superseded) or NONE for each. One call for all candidates of a conversation.
/// </summary>
public sealed class LlmDecisionAdvisor(IChatClient chat, ILogger<LlmDecisionAdvisor> logger) : IDecisionAdvisor
{
    internal const string Schema = """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["decisions"],
          "properties": {
            "decisions": {
              "type": "array",
              "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["candidate", "event", "id", "reason"],
                "properties": {
                  "candidate": { "type": "integer" },
                  "event": { "type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"] },
                  "id": { "type": ["string", "null"], "description": "Id of the existing memory acted on; null for ADD." },
                  "reason": { "type": "string" }
                }
              }
            }
          }
        }
        """;

    private const string Instructions = """
        You maintain a user's long-term memory. For each numbered new fact you see the user's related current memories
        with their ids. Decide exactly one event per new fact:
        ADD: it is new information; id null.
        NONE: an existing memory already says the same thing (even in other words); id = that memory.
        UPDATE: it refines an existing memory about the same thing without contradicting it (adds detail); id = that memory.
        DELETE: it contradicts an existing memory, which must be replaced by the new fact; id = the contradicted memory.
        Use only ids shown with that fact. Give one decision per fact, with a short reason.
        """;

    public async Task<IReadOnlyDictionary<int, Advice>> AdviseAsync(IReadOnlyList<AdviceRequest> requests, CancellationToken ct)
    {
        if (requests.Count == 0) return new Dictionary<int, Advice>();
        var facts = JsonSerializer.Serialize(requests.Select(r => new
        {
            candidate = r.Index,
            fact = r.Candidate.Content,
            key = r.Candidate.Key,
            existing = r.Shown.Select(m => new { id = m.Id, content = m.Content, key = m.Key }),
        }));
        LlmJson.Reply reply;
        try
        {
            reply = await LlmJson.AskAsync(chat,
                [new ChatMessage(ChatRole.System, Instructions), new ChatMessage(ChatRole.User, "New facts as JSON:\n" + facts)],
                "decisions", Schema, ShapeError, logger, ct);
        }
        catch (DependencyUnavailableException ex)
        {
            // The rules can always decide; a model outage here costs quality, not the request.
            logger.LogWarning("Decision model unavailable, the rules decide: {Message}", ex.Message);
            return Unusable(requests, "the decision model was unavailable");
        }
        if (reply.Json is not { } json) return Unusable(requests, $"the decision model's reply was unusable ({reply.Error})");

        var advice = new Dictionary<int, Advice>();
        foreach (var d in json.GetProperty("decisions").EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Object || !d.TryGetProperty("candidate", out var c) || !c.TryGetInt32(out var index)) continue;
            var ev = d.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()! : "";
            var id = d.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            var reason = d.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
            advice[index] = advice.ContainsKey(index)
                ? new Advice(ev, id, reason, "the model gave more than one decision for this candidate")
                : new Advice(ev, id, reason);
        }
        return advice;
    }

    private static Dictionary<int, Advice> Unusable(IReadOnlyList<AdviceRequest> requests, string problem) =>
        requests.ToDictionary(r => r.Index, _ => new Advice("", null, "", problem));

    private static string? ShapeError(JsonElement json) =>
        json.TryGetProperty("decisions", out var d) && d.ValueKind == JsonValueKind.Array ? null : "no \"decisions\" array";
}
