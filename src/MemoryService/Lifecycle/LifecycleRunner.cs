using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MemoryService.Memories;
using MemoryService.Retrieval;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Lifecycle;

public sealed record MergeReport(Guid Into, IReadOnlyList<Guid> From);

public sealed record PromotionReport(Guid? Id, MemoryKind Kind, string Content, IReadOnlyList<Guid> Evidence);

/// <summary>What a run did, or (dry run) would do.</summary>
public sealed record LifecycleReport(IReadOnlyList<MergeReport> Merged, IReadOnlyList<Guid> Archived, IReadOnlyList<PromotionReport> Promoted,
    bool DryRun)
{
    /// <summary>A scheduled run that found, under the owner's lock, that the owner's current version was already run.</summary>
    internal static readonly LifecycleReport Skipped = new([], [], [], false);
}

/// <summary>
/// One owner's lifecycle pass as numbered steps, in one transaction under the owner's lock (the lock learning and
/// erasure take): read the owner's served memories, consolidate restatements, forget what faded, promote routines,
/// then write every change with its history, or nothing (dry run).
/// </summary>
public sealed partial class LifecycleRunner(MemoryStore store, Embedder embedder, IOptions<LifecycleOptions> options,
    IOptions<RetrievalOptions> retrieval, IOptions<MemoriesOptions> memories, TimeProvider clock, ILogger<LifecycleRunner> logger)
{
    private const int MaxAttempts = 3;

    /// <summary>The run, retried when a memory changed under it (a PATCH takes no owner lock); null when the user does not exist.</summary>
    public async Task<LifecycleReport?> RunAsync(Owner owner, IReadOnlySet<LifecycleStep> steps, bool dryRun, LifecycleSettings settings,
        string actor, CancellationToken ct, Func<IDbContextTransaction, Task>? beforeCommit = null,
        Func<IDbContextTransaction, Task<bool>>? skip = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RunOnceAsync(owner, steps, dryRun, settings, actor, beforeCommit, skip, ct);
            }
            catch (DbUpdateConcurrencyException) when (attempt < MaxAttempts)
            {
                logger.LogInformation("Memories changed during a lifecycle run (attempt {Attempt}); running again", attempt);
            }
            finally
            {
                store.Db.ChangeTracker.Clear();
            }
        }
    }

    private async Task<LifecycleReport?> RunOnceAsync(Owner owner, IReadOnlySet<LifecycleStep> steps, bool dryRun, LifecycleSettings settings,
        string actor, Func<IDbContextTransaction, Task>? beforeCommit, Func<IDbContextTransaction, Task<bool>>? skip, CancellationToken ct)
    {
        var db = store.Db;
        var now = MemoryStore.Micros(clock.GetUtcNow());
        await using var tx = await store.BeginOwnerTransactionAsync(owner, ct);
        if (owner.UserId is not null && !await store.UserExistsAsync(owner.TenantId, owner.UserId, ct)) return null;
        if (skip is not null && await skip(tx)) return LifecycleReport.Skipped;

        // 1. the owner's served memories (current, active, unexpired), newest first, within the run's cap, with vectors
        var served = await store.Owned(owner)
            .Where(m => m.ValidTo == null && m.Status == MemoryStatus.Active && (m.ExpiresAt == null || m.ExpiresAt > now))
            .OrderByDescending(m => m.ObservedAt).ThenByDescending(m => m.Id)
            .Take(options.Value.MaxMemoriesPerRun).ToListAsync(ct);
        // the vectors of the current model (others cannot be compared with them)
        var vectors = served.Where(m => m.Embedding is not null && m.EmbeddingModel == embedder.ModelId)
            .ToDictionary(m => m.Id, m => VectorMath.ToFloats(m.Embedding!));
        var history = new List<MemoryHistory>();
        var threshold = settings.ConsolidateSimilarity ?? SameThingThresholds.For(embedder.ModelId);

        // 2. consolidate: clusters that say the same thing become their most complete wording; the rest are archived
        var merged = new List<MergeReport>();
        if (steps.Contains(LifecycleStep.Consolidate))
            foreach (var cluster in Clusters(served.Where(m => m.Kind != MemoryKind.Event), vectors, threshold, byKey: true))
                merged.Add(Merge(owner, cluster, now, actor, history));

        // 3. forget: faded (activation), unimportant, unconfident and unused; never pinned nor important preferences
        var archived = new List<Guid>();
        if (steps.Contains(LifecycleStep.Forget))
        {
            var d = retrieval.Value.ActivationDecay;
            foreach (var m in served.Where(m => m.Status == MemoryStatus.Active && !m.Pinned))
            {
                if (m.Kind == MemoryKind.Preference && m.Importance >= settings.KeepPreferencesFrom) continue;
                var activation = SearchPipeline.Activation(m.AccessCount, m.CreatedAt, now, d);
                var lastUse = m.LastAccessedAt is { } a && a > m.CreatedAt ? a : m.CreatedAt;
                if (activation >= settings.ForgetActivationBelow || m.Importance >= settings.ForgetImportanceBelow
                    || m.Confidence >= settings.ForgetConfidenceBelow || now - lastUse < TimeSpan.FromDays(settings.ForgetUnusedDays)) continue;
                Archive(m, now);
                archived.Add(m.Id);
                history.Add(MemoryFeedback.History(owner, m, MemoryEvent.Forgotten, now, actor, new JsonObject
                {
                    ["activation"] = Math.Round(activation, 4), ["importance"] = Math.Round(m.Importance, 4),
                    ["confidence"] = Math.Round(m.Confidence, 4), ["unused_days"] = Math.Round((now - lastUse).TotalDays, 1),
                }));
            }
        }

        // 4. promote: an activity on at least N different days becomes a standing fact, with the events as evidence
        var promoted = new List<(PromotionReport Report, Memory? Memory, List<Memory> Evidence)>();
        if (steps.Contains(LifecycleStep.Promote))
        {
            var covered = served.Where(m => m.Metadata["promoted_from"] is JsonArray).SelectMany(m => m.Metadata["promoted_from"]!.AsArray())
                .Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) && Guid.TryParse(s, out var g) ? g : Guid.Empty).ToHashSet();
            var events = served.Where(m => m.Kind == MemoryKind.Event && m.Status == MemoryStatus.Active && !covered.Contains(m.Id));
            foreach (var cluster in Clusters(events, vectors, settings.PromoteSimilarity ?? threshold - 0.1, byKey: false))
            {
                var days = cluster.Select(DayOf).Distinct().Order().ToList();
                if (days.Count < settings.PromoteMinDays) continue;
                var newest = cluster.MaxBy(m => (m.ObservedAt, m.Id))!;
                var content = RoutineContent(newest.Content, days);
                Memory? created = dryRun ? null : Routine(owner, cluster, content, days, now);
                promoted.Add((new PromotionReport(created?.Id, MemoryKind.Fact, content, cluster.Select(m => m.Id).ToList()), created, cluster));
            }
        }

        var report = new LifecycleReport(merged, archived, promoted.Select(p => p.Report).ToList(), dryRun);
        if (dryRun) return report; // the transaction is rolled back on dispose: nothing was written

        // 5. write: promoted facts (embedded, with "created" history), then every change and its history
        var newOnes = promoted.Where(p => p.Memory is not null).ToList();
        if (newOnes.Count > 0)
        {
            var newVectors = await embedder.EmbedDocumentsAsync(newOnes.Select(p => p.Memory!.Content).ToList(), ct);
            await store.InsertEmbeddedAsync(owner, newOnes.Select(p => p.Memory!).ToList(), newVectors, actor, tx, ct);
            foreach (var (_, memory, evidence) in newOnes)
            {
                history.Add(MemoryFeedback.History(owner, memory!, MemoryEvent.Promoted, now, actor,
                    new JsonObject { ["evidence"] = Ids(evidence.Select(e => e.Id)) }));
                foreach (var e in evidence)
                    history.Add(MemoryFeedback.History(owner, e, MemoryEvent.Promoted, now, actor, new JsonObject { ["into"] = memory!.Id.ToString() }));
            }
        }
        db.AddRange(history);
        await db.SaveChangesAsync(ct);
        if (beforeCommit is not null) await beforeCommit(tx);
        await tx.CommitAsync(ct);
        if (merged.Count + archived.Count + promoted.Count > 0)
            logger.LogInformation("Lifecycle: {Merged} merge(s), {Archived} forgotten, {Promoted} promoted", merged.Count, archived.Count, promoted.Count);
        return report;
    }

    // ---- consolidation ----

    /// <summary>
    /// Groups of two or more that say the same thing: same kind (and key, when <paramref name="byKey"/>), every pair at or
    /// above the cosine threshold (or the same words), and compatible (same numbers and negation, entities one within the
    /// other). Complete linkage, newest first, so a chain of small rewordings never drifts into another statement.
    /// </summary>
    private static IEnumerable<List<Memory>> Clusters(IEnumerable<Memory> memories, Dictionary<Guid, float[]> vectors, double threshold, bool byKey)
    {
        foreach (var group in memories.GroupBy(m => (m.Kind, Key: byKey ? m.Key ?? "" : "")))
        {
            var clusters = new List<List<Memory>>();
            foreach (var m in group.OrderByDescending(m => m.ObservedAt).ThenByDescending(m => m.Id))
            {
                var traits = Traits.Of(m.Content);
                var home = clusters.FirstOrDefault(c => c.All(o => SameThing(m, traits, o, vectors, threshold)));
                if (home is null) clusters.Add([m]);
                else home.Add(m);
            }
            foreach (var c in clusters.Where(c => c.Count > 1)) yield return c;
        }
    }

    private static bool SameThing(Memory a, Traits ta, Memory b, Dictionary<Guid, float[]> vectors, double threshold)
    {
        var tb = Traits.Of(b.Content);
        if (!ta.CompatibleWith(tb)) return false;
        if (ta.Normalised == tb.Normalised) return true;
        return vectors.TryGetValue(a.Id, out var va) && vectors.TryGetValue(b.Id, out var vb) && Cosine(va, vb) >= threshold;
    }

    /// <summary>
    /// Keeps the most complete wording (most distinct words; the newest on a tie), the highest importance and confidence,
    /// the union of tags, the earliest time as first seen (valid_from) and the latest as last confirmed (observed_at);
    /// the others are archived, each with "merged" history naming the survivor, and the survivor's naming them.
    /// A pinned memory is never archived by a merge: it survives, and other pinned ones stay out of the cluster.
    /// </summary>
    private MergeReport Merge(Owner owner, List<Memory> cluster, DateTimeOffset now, string actor, List<MemoryHistory> history)
    {
        var survivor = cluster.Where(m => m.Pinned).OrderByDescending(Completeness).ThenByDescending(m => m.ObservedAt).FirstOrDefault()
            ?? cluster.OrderByDescending(Completeness).ThenByDescending(m => m.ObservedAt).ThenByDescending(m => m.Id).First();
        var sources = cluster.Where(m => m != survivor && !m.Pinned).ToList();
        var all = sources.Append(survivor).ToList();
        var oldContent = survivor.Content;
        survivor.Importance = all.Max(m => m.Importance);
        survivor.Confidence = all.Max(m => m.Confidence);
        survivor.Tags = all.SelectMany(m => m.Tags).Distinct().Take(memories.Value.MaxTags).ToArray();
        survivor.ValidFrom = all.Min(m => m.ValidFrom < m.ObservedAt ? m.ValidFrom : m.ObservedAt);
        survivor.ObservedAt = all.Max(m => m.ObservedAt);
        survivor.AccessCount = all.Sum(m => m.AccessCount);
        survivor.LastAccessedAt = all.Max(m => m.LastAccessedAt);
        survivor.UpdatedAt = now;
        survivor.Version++;
        foreach (var s in sources)
        {
            Archive(s, now);
            history.Add(MemoryFeedback.History(owner, s, MemoryEvent.Merged, now, actor, new JsonObject { ["into"] = survivor.Id.ToString() }));
        }
        var record = MemoryFeedback.History(owner, survivor, MemoryEvent.Merged, now, actor, new JsonObject { ["from"] = Ids(sources.Select(s => s.Id)) });
        record.OldContent = oldContent;
        record.NewContent = survivor.Content;
        history.Add(record);
        return new MergeReport(survivor.Id, sources.Select(s => s.Id).ToList());
    }

    private static int Completeness(Memory m) => Traits.Of(m.Content).Words.Count;

    private static void Archive(Memory m, DateTimeOffset now)
    {
        m.Status = MemoryStatus.Archived;
        m.UpdatedAt = now;
        m.Version++;
    }

    // ---- promotion ----

    private static DateOnly DayOf(Memory m) =>
        m.Metadata["event_date"] is JsonValue v && v.TryGetValue<string>(out var s)
            && DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? day : DateOnly.FromDateTime(m.ObservedAt.UtcDateTime);

    private static string RoutineContent(string newest, List<DateOnly> days)
    {
        var text = newest.Trim().TrimEnd('.', '!');
        return $"Routine, seen on {days.Count} days from {days[0].ToString("d MMMM yyyy", CultureInfo.InvariantCulture)} " +
               $"to {days[^1].ToString("d MMMM yyyy", CultureInfo.InvariantCulture)}: {text}";
    }

    private Memory Routine(Owner owner, List<Memory> evidence, string content, List<DateOnly> days, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(now),
        TenantId = owner.TenantId,
        UserId = owner.UserId,
        Kind = MemoryKind.Fact,
        Content = content,
        Key = evidence.Select(e => e.Key).FirstOrDefault(k => k is not null) is { } k ? "routine:" + k : null,
        Tags = evidence.SelectMany(e => e.Tags).Distinct().Take(memories.Value.MaxTags).ToArray(),
        Metadata = new JsonObject
        {
            ["learned_from"] = "lifecycle", ["promoted_from"] = Ids(evidence.Select(e => e.Id)), ["days"] = days.Count,
        },
        Importance = evidence.Max(e => e.Importance),
        Confidence = (float)Math.Min(1, 0.5 + 0.1 * days.Count),
        Source = MemorySource.Inferred,
        ObservedAt = evidence.Max(e => e.ObservedAt),
        ValidFrom = evidence.Min(e => e.ObservedAt),
        CreatedAt = now,
        UpdatedAt = now,
        EmbeddingModel = embedder.ModelId,
    };

    // ---- helpers ----

    private static JsonArray Ids(IEnumerable<Guid> ids) => new(ids.Select(id => (JsonNode)JsonValue.Create(id.ToString())!).ToArray());

    private static double Cosine(float[] a, float[] b)
    {
        if (a.Length != b.Length) return 0;
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>What two statements must agree on to be one (public for the calibration benchmark).</summary>
    public sealed partial record Traits(string Normalised, List<string> Sequence, HashSet<string> Words, HashSet<string> Numbers,
        HashSet<string> Entities, bool Negated)
    {
        public static Traits Of(string content)
        {
            var tokens = Word().Matches(content).Select(m => m.Value).ToList();
            var lower = tokens.Select(t => t.ToLowerInvariant()).ToList();
            var entities = tokens.Skip(1).Where(t => char.IsUpper(t[0])).Select(t => t.ToLowerInvariant()).ToHashSet();
            return new Traits(string.Join(' ', lower), lower, lower.ToHashSet(), lower.Where(t => t.Any(char.IsDigit)).ToHashSet(), entities,
                lower.Any(t => t is "not" or "no" or "never" or "nothing" or "none" or "nor" || t.EndsWith("n't", StringComparison.Ordinal)
                    || t.EndsWith("n’t", StringComparison.Ordinal) || t is "dont" or "doesnt" or "didnt" or "isnt" or "wont" or "cant"));
        }

        /// <summary>
        /// Same numbers, same negation, named things one set within the other, and no word swapped for another value:
        /// aligned on their longest common word sequence, no gap where one word stands against one or two others
        /// ("Prefers tea" / "Prefers coffee", "Works as a nurse at X" / "Works as a teacher at X"). Embeddings put such
        /// pairs close together (they differ in a word), yet they are the updates consolidation must never merge.
        /// Added words ("... hospital") and longer rewordings pass, and are left to the cosine.
        /// </summary>
        public bool CompatibleWith(Traits o)
        {
            if (Negated != o.Negated || !Numbers.SetEquals(o.Numbers)) return false;
            if (!(Entities.IsSubsetOf(o.Entities) || o.Entities.IsSubsetOf(Entities))) return false;
            if (Normalised == o.Normalised) return true;
            var a = Sequence.Take(MaxAlignedWords).ToArray();
            var b = o.Sequence.Take(MaxAlignedWords).ToArray();
            // longest common subsequence table, then walk it, measuring each gap on both sides
            var lcs = new int[a.Length + 1, b.Length + 1];
            for (var i = a.Length - 1; i >= 0; i--)
                for (var j = b.Length - 1; j >= 0; j--)
                    lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            int x = 0, y = 0, gapA = 0, gapB = 0;
            bool Swapped() => gapA > 0 && gapB > 0 && Math.Min(gapA, gapB) == 1 && Math.Max(gapA, gapB) <= 2;
            while (x < a.Length || y < b.Length)
            {
                if (x < a.Length && y < b.Length && a[x] == b[y])
                {
                    if (Swapped()) return false;
                    gapA = gapB = 0;
                    x++; y++;
                }
                else if (y >= b.Length || (x < a.Length && lcs[x + 1, y] >= lcs[x, y + 1])) { gapA++; x++; }
                else { gapB++; y++; }
            }
            return !Swapped();
        }

        private const int MaxAlignedWords = 64;

        [GeneratedRegex(@"[\p{L}\p{N}]+(?:['’][\p{L}]+)?", RegexOptions.NonBacktracking)]
        private static partial Regex Word();
    }
}
