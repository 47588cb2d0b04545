using System.Text.Json.Nodes;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Microsoft.Extensions.Options;

namespace MemoryService.Learning;

/// <summary>
/// Learning as numbered steps: extract candidates, embed them, gather the related current memories of each
/// (same key, and similar by <see cref="SearchPipeline"/>), decide per candidate in order (a model's proposal
/// when it validates, else <see cref="ReconcileRules"/>), then write every change in one transaction.
/// Requests about the form of answers (<see cref="BehaviourPatterns"/>) are counted per conversation in
/// behaviour_signals; the one that reaches <see cref="LearningOptions.BehaviourRepeats"/> conversations joins the
/// candidates as a preference and is reconciled by the same rules (decision <c>promote</c>).
/// </summary>
public sealed class LearningPipeline(
    IMemoryExtractor extractor,
    IDecisionAdvisor advisor,
    Embedder embedder,
    SearchPipeline search,
    MemoryStore store,
    IOptions<LearningOptions> options,
    TimeProvider clock,
    NpgsqlDataSource data,
    ILogger<LearningPipeline> logger) : IConversationLearner
{
    private const int MaxAttempts = 3;

    public async Task<LearningOutcome> LearnAsync(Guid tenantId, string userId, IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt, bool dryRun, string actor, WriteGuard? guard = null, CancellationToken cancellationToken = default,
        string? conversation = null)
    {
        var owner = new Owner(tenantId, userId);
        var ct = cancellationToken;

        // 1. extract candidates (relative dates resolve against observedAt), and the requests about answers;
        //    a key stated explicitly in this conversation is not counted as behaviour
        var extraction = await extractor.ExtractAsync(messages, observedAt, ct);
        var extracted = extraction.Candidates;
        var signals = options.Value.BehaviourRepeats == 0 ? []
            : BehaviourPatterns.Find(messages).Where(sig => extracted.All(c => c.Key != sig.Key)).ToList();
        if (extracted.Count == 0 && signals.Count == 0) return new LearningOutcome([], extraction.Failed);
        var behaviour = new Behaviour(signals, conversation ?? Guid.NewGuid().ToString(), observedAt,
            extracted.Select(c => c.Key).Where(k => BehaviourPatterns.Keys.Contains(k)).Distinct().ToList());

        // 2. embed candidates (and the preferences the signals would become) before any transaction:
        //    an embedder failure is a 503 and nothing is written
        var allVectors = await embedder.EmbedDocumentsAsync(extracted.Select(c => c.Content).Concat(signals.Select(sig => sig.Content)).ToList(), ct);

        IReadOnlyDictionary<int, Advice>? advice = null;
        for (var attempt = 1; ; attempt++)
        {
            // 3. the sightings stored for the signals' keys: a signal seen in enough conversations becomes a candidate
            behaviour.Stored = await ReadSightingsAsync(owner, behaviour.SignalKeys, ct);
            var promotions = behaviour.Promotions(options.Value.BehaviourRepeats);
            var candidates = extracted.Concat(promotions.Select(p => p.Candidate)).ToList();
            var vectors = allVectors[..extracted.Count].Concat(promotions.Select(p => allVectors[extracted.Count + signals.IndexOf(p.Signal)])).ToArray();

            // 4. gather what is known now: current memories with the candidates' keys, and similar ones
            var (related, sameKeySeen) = await GatherAsync(owner, candidates, vectors, ct);

            // 5. ask the advisor once (the model, if any), only about extracted candidates that have something to compare with;
            //    a promoted preference is left to the rules
            advice ??= await advisor.AdviseAsync(
                related.Take(extracted.Count).Select((r, i) => new AdviceRequest(i, candidates[i], r.Select(x => x.Memory).ToList()))
                    .Where(r => r.Shown.Count > 0).ToList(), ct);

            // 6. decide in order, each against the state left by the earlier decisions of this call
            var plan = Decide(owner, candidates, vectors, related, sameKeySeen, advice, observedAt);
            plan.Behaviour = behaviour;
            for (var p = 0; p < promotions.Count; p++) plan.Steps[extracted.Count + p].Promotion = promotions[p];
            if (dryRun) return new LearningOutcome(plan.Decisions(dryRun: true), extraction.Failed);

            // 7. write everything in one transaction, or decide again if the memories (or sightings) changed meanwhile
            var written = await TryWriteAsync(owner, plan, actor, guard, ct);
            if (written is null)
            {
                logger.LogInformation("Learning discarded: its job no longer exists (the user was erased) or was taken over");
                return new LearningOutcome([], extraction.Failed) { Discarded = true };
            }
            if (written.Value)
            {
                logger.LogInformation("Learned {Count} decision(s): {Actions}", plan.Steps.Count,
                    string.Join(", ", plan.Steps.GroupBy(s => s.Action).Select(g => $"{g.Count()} {g.Key}")));
                return new LearningOutcome(plan.Decisions(dryRun: false), extraction.Failed);
            }
            if (attempt == MaxAttempts)
                throw new InvalidOperationException("The user's memories kept changing while learning; nothing was written.");
            logger.LogInformation("Memories changed while learning (attempt {Attempt}); deciding again", attempt);
        }
    }

    private async Task<List<SignalSighting>> ReadSightingsAsync(Owner owner, IReadOnlyCollection<string> keys, CancellationToken ct)
    {
        if (keys.Count == 0) return [];
        await using var connection = await data.OpenConnectionAsync(ct);
        return await BehaviourSignalStore.ReadAsync(connection, null, owner, keys, ct);
    }

    private async Task<(List<List<Related>> Related, HashSet<Guid> SameKeySeen)> GatherAsync(Owner owner, IReadOnlyList<MemoryCandidate> candidates, float[][] vectors,
        CancellationToken ct)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var keys = candidates.Select(c => c.Key).Distinct().ToArray();
        var sameKey = await store.Owned(owner).AsNoTracking()
            .Where(m => m.ValidTo == null && m.Status == MemoryStatus.Active && (m.ExpiresAt == null || m.ExpiresAt > now) && m.Key != null && keys.Contains(m.Key))
            .ToListAsync(ct);
        var known = sameKey.ToDictionary(m => m.Id, ToKnown);

        var result = new List<List<Related>>();
        for (var i = 0; i < candidates.Count; i++)
        {
            // Similarity only: the score is the cosine, no recency or popularity; a look-up, not a retrieval (no access recorded).
            var hits = await search.SearchAsync(owner, new SearchQuery(candidates[i].Content, Limit: o.RelatedLimit,
                IncludeKnowledge: false, Weights: new RankingWeights { Similarity = 1, Keyword = 0, Recency = 0, Importance = 0, Activation = 0, Context = 0, Graph = 0 },
                QueryVector: vectors[i], RecordAccess: false), ct);
            var related = new Dictionary<Guid, Related>();
            foreach (var hit in hits.Where(h => h.Parts.Similarity >= o.RelatedSimilarity))
                related[hit.Memory.Id] = new Related(known.TryGetValue(hit.Memory.Id, out var k) ? k : known[hit.Memory.Id] = ToKnown(hit.Memory),
                    hit.Parts.Similarity);
            foreach (var m in sameKey.Where(m => m.Key == candidates[i].Key && !related.ContainsKey(m.Id)))
                related[m.Id] = new Related(known[m.Id], 0);
            result.Add(related.Values.ToList());
        }
        return (result, sameKey.Select(m => m.Id).ToHashSet());
    }

    private static KnownMemory ToKnown(Memory m) => new()
    {
        Id = m.Id, Key = m.Key, Content = m.Content, Kind = m.Kind, Confidence = m.Confidence, Importance = m.Importance,
        Version = m.Version,
    };

    private Plan Decide(Owner owner, IReadOnlyList<MemoryCandidate> candidates, float[][] vectors, List<List<Related>> related,
        HashSet<Guid> sameKeySeen, IReadOnlyDictionary<int, Advice> advice, DateTimeOffset observedAt)
    {
        var plan = new Plan { SameKeySeen = sameKeySeen };
        var now = MemoryStore.Micros(clock.GetUtcNow());
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            // What this candidate is compared with: the gathered memories still current, plus ones added earlier in this call.
            var current = related[i].Where(r => !r.Memory.Superseded).ToList();
            foreach (var pending in plan.Pending.Where(p => !p.Superseded && current.All(r => r.Memory.Id != p.Id)))
            {
                var similarity = Cosine(pending.Vector!, vectors[i]);
                if (pending.Key == candidate.Key || similarity >= options.Value.RelatedSimilarity)
                    current.Add(new Related(pending, similarity));
            }

            // A model's proposal is used only when it validates; otherwise the rules decide and the reason says why.
            string? rejected = null;
            (LearningAction, List<KnownMemory>, string)? advised = null;
            if (advice.TryGetValue(i, out var a))
            {
                rejected = Rejection(a, related[i], current, candidate, plan);
                if (rejected is null) advised = FromAdvice(a, related[i]);
            }
            if (advised is not { } decision)
            {
                var rules = ReconcileRules.Decide(candidate, current, options.Value.RepeatSimilarity);
                decision = (rules.Action, rules.Targets.ToList(),
                    rejected is null ? rules.Reason : $"model decision rejected ({rejected}); rules: {rules.Reason}");
                if (rejected is not null)
                    logger.LogWarning("Model decision for candidate {Index} rejected: {Why}", i, rejected);
            }
            var (action, targets, reason) = decision;

            var step = new Step(action, candidate, vectors[i], targets, reason);
            switch (action)
            {
                case LearningAction.Noop:
                    targets[0].Confidence = ReconcileRules.Reinforce(targets[0].Confidence, candidate.Confidence);
                    break;
                case LearningAction.Update:
                    targets[0].Content = candidate.Content;
                    targets[0].Kind = candidate.Kind;
                    targets[0].Key = candidate.Key;
                    targets[0].Vector = vectors[i];
                    break;
                case LearningAction.Add or LearningAction.Supersede:
                    step.Created = NewMemory(owner, candidate, observedAt, now);
                    foreach (var t in targets) t.Superseded = true;
                    plan.Pending.Add(new KnownMemory
                    {
                        Id = step.Created.Id, Key = candidate.Key, Content = candidate.Content, Kind = candidate.Kind,
                        Confidence = candidate.Confidence, Importance = candidate.Importance, Version = 1, Pending = true, Vector = vectors[i],
                    });
                    break;
            }
            plan.Steps.Add(step);
        }
        return plan;
    }

    /// <summary>A validated proposal in Mem0's vocabulary as this service's action: DELETE of a contradicted memory is a supersede.</summary>
    private static (LearningAction, List<KnownMemory>, string) FromAdvice(Advice a, List<Related> shown)
    {
        var why = a.Reason.Length > 0 ? $"model: {a.Reason}" : "model decision";
        if (a.Event == "ADD") return (LearningAction.Add, [], why);
        var target = shown.First(r => r.Memory.Id == Guid.Parse(a.Id!)).Memory;
        return a.Event switch
        {
            "NONE" => (LearningAction.Noop, [target], why),
            "UPDATE" => (LearningAction.Update, [target], why),
            _ => (LearningAction.Supersede, [target], why),
        };
    }

    /// <summary>
    /// Why a proposal cannot be used, or null: it must be the only one for its candidate, a known event, and name
    /// an id shown with the candidate that is still current. A candidate sharing a key with an earlier one of this
    /// call is left to the rules, since the model decided without seeing the earlier one.
    /// </summary>
    private static string? Rejection(Advice a, List<Related> shown, List<Related> current, MemoryCandidate candidate, Plan plan)
    {
        if (a.Problem is not null) return a.Problem;
        if (a.Event is not ("ADD" or "UPDATE" or "DELETE" or "NONE")) return $"unknown event '{a.Event}'";
        if (plan.Steps.Any(s => s.Candidate.Key == candidate.Key)) return "an earlier candidate of this call has the same key";
        if (a.Event == "ADD")
            return current.FirstOrDefault(r => r.Memory.Key == candidate.Key) is { } same
                ? $"ADD would leave memory {same.Memory.Id} with the same key '{candidate.Key}' current"
                : null;
        if (a.Id is null || !Guid.TryParse(a.Id, out var id) || shown.All(r => r.Memory.Id != id))
            return $"it names id '{a.Id}', which was not shown";
        if (current.All(r => r.Memory.Id != id)) return $"memory {id} is no longer current";
        return null;
    }

    private Memory NewMemory(Owner owner, MemoryCandidate c, DateTimeOffset observedAt, DateTimeOffset now)
    {
        var metadata = new JsonObject { ["learned_from"] = "conversation", ["evidence"] = c.Evidence.Length > 500 ? c.Evidence[..500] : c.Evidence };
        if (c.EventDate is { } date) metadata["event_date"] = date.ToString("yyyy-MM-dd");
        var observed = MemoryStore.Micros(observedAt);
        return new Memory
        {
            Id = Guid.CreateVersion7(now),
            TenantId = owner.TenantId,
            UserId = owner.UserId,
            Kind = c.Kind,
            Content = c.Content,
            Key = c.Key,
            Metadata = metadata,
            Importance = (float)c.Importance,
            Confidence = (float)c.Confidence,
            Source = MemorySource.Inferred,
            ObservedAt = observed,
            CreatedAt = now,
            UpdatedAt = now,
            ValidFrom = observed,
            EmbeddingModel = embedder.ModelId,
        };
    }

    /// <summary>
    /// Inserts the new memories, then applies every change to existing ones, under the owner's advisory lock.
    /// False (and nothing written) when a memory the decisions relied on changed since it was read; null (and
    /// nothing written) when the guard refused.
    /// </summary>
    private async Task<bool?> TryWriteAsync(Owner owner, Plan plan, string actor, WriteGuard? guard, CancellationToken ct)
    {
        var db = store.Db;
        var now = MemoryStore.Micros(clock.GetUtcNow());
        await using var tx = await store.BeginOwnerTransactionAsync(owner, ct);
        try
        {
            if (guard is not null &&
                !await guard((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(), ct))
                return null;

            // a. nothing the decisions read may have changed: the same current memories per key, at the same versions
            var keys = plan.Steps.Select(s => s.Candidate.Key).Distinct().ToArray();
            var currentByKey = await store.Owned(owner).AsNoTracking()
                .Where(m => m.ValidTo == null && m.Status == MemoryStatus.Active && (m.ExpiresAt == null || m.ExpiresAt > now) && m.Key != null && keys.Contains(m.Key))
                .Select(m => m.Id).ToListAsync(ct);
            if (!currentByKey.ToHashSet().SetEquals(plan.SameKeySeen)) return false;
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            var transaction = (NpgsqlTransaction)tx.GetDbTransaction();
            if (plan.Behaviour is { } behaviour)
            {
                if (!(await BehaviourSignalStore.ReadAsync(connection, transaction, owner, behaviour.SignalKeys, ct)).SequenceEqual(behaviour.Stored))
                    return false;
                // promoted keys and keys stated explicitly start counting afresh; the other sightings are recorded
                var promoted = plan.Steps.Where(st => st.Promotion is not null).Select(st => st.Candidate.Key).ToList();
                await BehaviourSignalStore.ClearAsync(connection, transaction, owner, promoted.Concat(behaviour.ExplicitKeys).Distinct().ToList(), ct);
                var sightings = behaviour.Sightings().Where(x => !promoted.Contains(x.Key)).ToList();
                if (sightings.Count > 0) await store.EnsureUserAsync(owner, now, tx, ct); // what is kept about a user makes them a user
                await BehaviourSignalStore.RecordAsync(connection, transaction, owner, sightings, ct);
            }
            foreach (var step in plan.Steps.Where(st => st is { Promotion: not null, Created: not null }))
            {
                step.Created!.Metadata["learned_from"] = "behaviour";
                step.Created.Metadata["evidence"] = new JsonArray(step.Promotion!.Supporting.Select(x => (JsonNode)new JsonObject
                {
                    ["conversation"] = x.Conversation, ["observed_at"] = x.ObservedAt.ToString("O"), ["text"] = x.Evidence,
                }).ToArray());
            }

            // b. new memories (with their vectors and "created" history)
            var created = plan.Steps.Where(s => s.Created is not null).ToList();
            await store.InsertEmbeddedAsync(owner, created.Select(s => s.Created!).ToList(), created.Select(s => s.Vector).ToArray(), actor, tx, ct);

            // c. changes to existing memories, in decision order
            var touchedIds = plan.Steps.SelectMany(s => s.Targets).Select(t => t.Id).Distinct().ToArray();
            var tracked = await store.Owned(owner).Where(m => touchedIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, ct);
            foreach (var target in plan.Steps.SelectMany(s => s.Targets).DistinctBy(t => t.Id))
                if (!tracked.TryGetValue(target.Id, out var m) || m.Version != target.Version || m.ValidTo is not null) return false;

            var events = MemoryStore.Created(created.Select(s => s.Created!));
            foreach (var step in plan.Steps)
            {
                foreach (var target in step.Targets)
                {
                    var m = tracked[target.Id];
                    switch (step.Action)
                    {
                        case LearningAction.Noop:
                            m.Confidence = (float)ReconcileRules.Reinforce(m.Confidence, step.Candidate.Confidence);
                            m.AccessCount++;
                            m.LastAccessedAt = now;
                            break;
                        case LearningAction.Update:
                            db.Add(History(owner, m.Id, MemoryEvent.Updated, m.Content, step.Candidate.Content, now, actor));
                            m.Content = step.Candidate.Content;
                            m.Kind = step.Candidate.Kind;
                            m.Key = step.Candidate.Key;
                            m.Importance = Math.Max(m.Importance, (float)step.Candidate.Importance);
                            m.Confidence = Math.Max(m.Confidence, (float)step.Candidate.Confidence);
                            m.UpdatedAt = now;
                            m.Version++;
                            store.SetEmbedding(m, step.Vector);
                            events.Add(WebhookEvent.Of(m, WebhookEventTypes.MemoryUpdated));
                            break;
                        case LearningAction.Supersede:
                            db.Add(History(owner, m.Id, MemoryEvent.Superseded, m.Content, step.Candidate.Content, now, actor));
                            m.ValidTo = now;
                            m.SupersededBy = step.Created!.Id;
                            m.UpdatedAt = now;
                            m.Version++;
                            events.Add(WebhookEvent.Of(m, WebhookEventTypes.MemorySuperseded));
                            break;
                    }
                }
            }
            await db.SaveChangesAsync(ct);
            if (plan.Steps.Count > 0)
                events.Add(new WebhookEvent(WebhookEventTypes.LearningCompleted, owner.UserId, new LearningCompletedData(plan.Decisions(dryRun: false)
                    .Select(d => new LearnedDecision(d.Action, d.MemoryIds, d.Candidate.Content, d.Candidate.Key, d.Reason)).ToList())));
            await store.Outbox.EnqueueAsync(db, tx, owner.TenantId, events, ct);
            await tx.CommitAsync(ct);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>learning.completed's data: what the pipeline decided and wrote, in order.</summary>
    public sealed record LearningCompletedData(IReadOnlyList<LearnedDecision> Decisions);

    public sealed record LearnedDecision(LearningAction Action, IReadOnlyList<Guid> MemoryIds, string Content, string Key, string Reason);

    private static MemoryHistory History(Owner owner, Guid id, MemoryEvent e, string? oldContent, string? newContent, DateTimeOffset at,
        string actor) => new()
        {
            TenantId = owner.TenantId, UserId = owner.UserId, MemoryId = id, Event = e, OldContent = oldContent, NewContent = newContent,
            ChangedAt = at, Actor = actor,
        };

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length && i < b.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    private sealed class Step(LearningAction action, MemoryCandidate candidate, float[] vector, List<KnownMemory> targets, string reason)
    {
        public LearningAction Action { get; } = action;
        public MemoryCandidate Candidate { get; } = candidate;
        public float[] Vector { get; } = vector;
        public List<KnownMemory> Targets { get; } = targets;
        public string Reason { get; } = reason;
        public Memory? Created { get; set; }

        /// <summary>Set when the candidate is a preference learned from behaviour.</summary>
        public Promotion? Promotion { get; set; }

        /// <summary>A promoted preference that created a memory is a <c>promote</c>; one that repeats the current one stays a <c>noop</c>.</summary>
        public LearningAction Reported => Promotion is not null && Action is LearningAction.Add or LearningAction.Supersede ? LearningAction.Promote : Action;

        public string ReportedReason => Promotion is null ? Reason
            : $"seen in {Promotion.Supporting.Count} conversations (\"{Promotion.Supporting[^1].Evidence}\"); rules: {Reason}";
    }

    /// <summary>A signal seen in enough conversations: its candidate and the sightings behind it, oldest first.</summary>
    private sealed record Promotion(BehaviourSignal Signal, MemoryCandidate Candidate, IReadOnlyList<SignalSighting> Supporting);

    /// <summary>The behaviour signals of this call, and the sightings stored for their keys when deciding.</summary>
    private sealed class Behaviour(IReadOnlyList<BehaviourSignal> signals, string conversation, DateTimeOffset observedAt, IReadOnlyList<string> explicitKeys)
    {
        public IReadOnlyList<string> ExplicitKeys { get; } = explicitKeys;
        public IReadOnlyList<string> SignalKeys { get; } = signals.Select(s => s.Key).Distinct().ToList();
        public List<SignalSighting> Stored { get; set; } = [];

        public IEnumerable<SignalSighting> Sightings() =>
            signals.Select(s => new SignalSighting(s.Key, s.Value, conversation, s.Evidence, MemoryStore.Micros(observedAt)));

        /// <summary>Each signal whose value has now been seen in <paramref name="repeats"/> conversations (this one included), one per key.</summary>
        public List<Promotion> Promotions(int repeats)
        {
            var result = new List<Promotion>();
            foreach (var (signal, sighting) in signals.Zip(Sightings()))
            {
                if (result.Any(p => p.Signal.Key == signal.Key)) continue;
                var supporting = Stored.Where(x => x.Key == signal.Key && x.Value == signal.Value && x.Conversation != conversation)
                    .OrderBy(x => x.ObservedAt).Append(sighting).ToList();
                if (supporting.Count >= repeats)
                    result.Add(new Promotion(signal, BehaviourPatterns.Candidate(signal, supporting.Select(x => x.Evidence).ToList()), supporting));
            }
            return result;
        }
    }

    private sealed class Plan
    {
        public List<Step> Steps { get; } = [];
        public List<KnownMemory> Pending { get; } = [];

        /// <summary>The stored current memories with the candidates' keys when the decisions were made.</summary>
        public required HashSet<Guid> SameKeySeen { get; init; }

        public Behaviour? Behaviour { get; set; }

        /// <summary>
        /// Each decision: targets are the existing memories it touched; a new memory's id comes first. A dry run
        /// lists only existing memories, since the new ones were never created.
        /// </summary>
        public IReadOnlyList<LearningDecision> Decisions(bool dryRun) => Steps.Select(s => new LearningDecision(s.Reported, s.Candidate,
            (s.Created is not null && !dryRun ? [s.Created.Id] : Array.Empty<Guid>()).Concat(s.Targets.Select(t => t.Id))
                .Where(id => !dryRun || !Pending.Any(p => p.Id == id)).ToList(), s.ReportedReason) { Supporting = s.Promotion?.Supporting }).ToList();
    }
}
