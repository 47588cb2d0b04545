using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.EntityFrameworkCore;

namespace MemoryService.Lifecycle;

/// <summary>What an app says about a memory the assistant relied on.</summary>
public enum FeedbackSignal
{
    Helpful,
    NotHelpful,
    Wrong,
    Outdated,
}

/// <summary>
/// Restore and feedback: single-memory changes, each in one transaction under the owner's lock (the lock lifecycle runs
/// and learning take), recorded in the memory's history with the key that sent them.
/// </summary>
public sealed class MemoryFeedback(MemoryStore store, TimeProvider clock)
{
    public enum Outcome { Done, NotFound, Conflict }

    /// <summary>Helpful confirms: confidence rises by this share of what is left to 1.</summary>
    public const double HelpfulGain = 0.2;

    /// <summary>Not helpful: confidence is multiplied by this (ranked lower; forgetting can take it once it is low and unused).</summary>
    public const double NotHelpfulFactor = 0.5;

    /// <summary>Brings an archived memory back into search and context (history "restored").</summary>
    public async Task<(Outcome, Memory?, string?)> RestoreAsync(Owner owner, Guid id, string actor, CancellationToken ct)
    {
        var db = store.Db;
        await using var tx = await store.BeginOwnerTransactionAsync(owner, ct);
        try
        {
            var memory = await store.Owned(owner).FirstOrDefaultAsync(m => m.Id == id, ct);
            if (memory is null) return (Outcome.NotFound, null, null);
            if (memory.Status != MemoryStatus.Archived) return (Outcome.Conflict, memory, "The memory is not archived; there is nothing to restore.");
            var now = MemoryStore.Micros(clock.GetUtcNow());
            memory.Status = MemoryStatus.Active;
            memory.UpdatedAt = now;
            memory.Version++;
            db.Add(History(owner, memory, MemoryEvent.Restored, now, actor, null));
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return (Outcome.Done, memory, null);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>
    /// Applies a signal: helpful raises confidence and counts as a use; not_helpful lowers confidence; wrong and
    /// outdated end the memory's validity now (out of search and context, kept in history and export).
    /// </summary>
    public async Task<(Outcome, Memory?, string?)> ApplyAsync(Owner owner, Guid id, FeedbackSignal signal, string? comment, string actor,
        CancellationToken ct)
    {
        var db = store.Db;
        await using var tx = await store.BeginOwnerTransactionAsync(owner, ct);
        try
        {
            var memory = await store.Owned(owner).FirstOrDefaultAsync(m => m.Id == id, ct);
            if (memory is null) return (Outcome.NotFound, null, null);
            if (memory.ValidTo is not null)
                return (Outcome.Conflict, memory, "The memory is no longer valid (superseded or marked wrong or outdated); feedback applies to current memories.");
            var now = MemoryStore.Micros(clock.GetUtcNow());
            var before = memory.Confidence;
            switch (signal)
            {
                case FeedbackSignal.Helpful:
                    memory.Confidence = (float)Math.Min(1, before + (1 - before) * HelpfulGain);
                    memory.AccessCount++;
                    memory.LastAccessedAt = now;
                    break;
                case FeedbackSignal.NotHelpful:
                    memory.Confidence = (float)(before * NotHelpfulFactor);
                    break;
                default:
                    memory.ValidTo = now;
                    break;
            }
            memory.UpdatedAt = now;
            memory.Version++;
            var detail = new JsonObject
            {
                ["signal"] = Signal(signal),
                ["confidence_before"] = Math.Round(before, 4),
                ["confidence_after"] = Math.Round(memory.Confidence, 4),
            };
            if (!string.IsNullOrWhiteSpace(comment)) detail["comment"] = comment.Trim();
            db.Add(History(owner, memory, MemoryEvent.Feedback, now, actor, detail));
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return (Outcome.Done, memory, null);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    public static string Signal(FeedbackSignal s) => s switch
    {
        FeedbackSignal.Helpful => "helpful",
        FeedbackSignal.NotHelpful => "not_helpful",
        FeedbackSignal.Wrong => "wrong",
        _ => "outdated",
    };

    public static FeedbackSignal? ParseSignal(string? s) => s switch
    {
        "helpful" => FeedbackSignal.Helpful,
        "not_helpful" => FeedbackSignal.NotHelpful,
        "wrong" => FeedbackSignal.Wrong,
        "outdated" => FeedbackSignal.Outdated,
        _ => null,
    };

    internal static MemoryHistory History(Owner owner, Memory m, MemoryEvent e, DateTimeOffset at, string actor, JsonObject? detail) => new()
    {
        TenantId = owner.TenantId, UserId = owner.UserId, MemoryId = m.Id, Event = e, OldContent = m.Content, ChangedAt = at,
        Actor = actor, Detail = detail,
    };
}
