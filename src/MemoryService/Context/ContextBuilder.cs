using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Data;
using MemoryService.Graph;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Context;

/// <summary>What to build: whose context, for what query, within what budget, in which shape.</summary>
public sealed record ContextSpec(
    Owner Owner,
    string? Query,
    int TokenBudget,
    IReadOnlySet<ContextSection> Requested,
    ContextFormat Format,
    ContextTemplate Template)
{
    /// <summary>
    /// The requested sections that the template places. Only these are gathered, charged to the budget and listed:
    /// a section the template leaves out would cost tokens and appear as used without ever being rendered.
    /// </summary>
    public IReadOnlySet<ContextSection> Sections => Requested.Where(Template.Places).ToHashSet();
}

/// <summary>One memory (or, in the people section, one entity: <see cref="EntityId"/>) placed in the prompt, and what it
/// was worth when the budget forced a choice.</summary>
public sealed record ContextItem(ContextSection Section, Memory? Memory, double Score, string? Date, string Line, Guid? EntityId = null)
{
    public double Value => ContextSections.Weight(Section) + Score;
    public Guid Id => Memory?.Id ?? EntityId!.Value;
}

/// <summary>
/// The system prompt and the items it holds, section by section, in rendering order; <see cref="Dropped"/> are the
/// candidates gathered for it that the token budget left out, most valuable first.
/// </summary>
public sealed record BuiltContext(string SystemPrompt, int TokenCount, IReadOnlyList<ContextItem> Items, IReadOnlyList<ContextItem> Dropped)
{
    /// <summary>The items that are memories (all but the people section's).</summary>
    public IEnumerable<ContextItem> Memories => Items.Where(i => i.Memory is not null);
}

/// <summary>
/// Assembles a user's system prompt: gathers each section's candidates, then keeps the most valuable whole items
/// that fit the token budget, measured on the rendered prompt itself.
/// </summary>
public sealed class ContextBuilder(MemoryDb db, SearchPipeline search, MemoryIndex index, Embedder embedder, ITokenCounter tokens,
    TimeProvider clock, IOptions<ContextOptions> options, GraphIndex graphs, NpgsqlDataSource dataSource)
{
    public const int MaxPeople = 8;
    public const int MaxRelationsPerEntity = 4;
    public const int MaxPreferences = 50;
    public const int MaxRelevant = 20;
    public const int MaxKnowledge = 5;
    public const int MaxEvents = 10;

    /// <summary>The template a tenant stored, or the built-in default.</summary>
    public async Task<ContextTemplate> TenantTemplateAsync(Guid tenantId, CancellationToken ct)
    {
        var stored = await db.Set<Tenant>().AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.ContextTemplate).FirstOrDefaultAsync(ct);
        return stored is null ? ContextTemplate.DefaultTemplate : ContextTemplate.Parse(stored, out _) ?? ContextTemplate.DefaultTemplate;
    }

    /// <summary>The wrapper's own cost: the template with every section empty.</summary>
    public int MinimumTokens(ContextTemplate template) => tokens.CountTokens(template.Render(new Dictionary<ContextSection, string>()));

    /// <summary>The context, or null when even the empty wrapper exceeds the budget.</summary>
    public async Task<BuiltContext?> BuildAsync(ContextSpec spec, CancellationToken ct)
    {
        // 0. the wrapper alone must fit, or there is nothing to build
        var empty = spec.Template.Render(new Dictionary<ContextSection, string>());
        var wrapperTokens = tokens.CountTokens(empty);
        if (wrapperTokens > spec.TokenBudget) return null;

        // 1. gather candidates, section by section
        var candidates = await GatherAsync(spec, ct);

        // 2. keep the most valuable whole items whose estimated cost still fits
        var sections = spec.Sections;
        var headerCost = sections.ToDictionary(s => s, s => tokens.CountTokens(Wrap(s, "", spec.Format)));
        var kept = new List<ContextItem>();
        var open = new HashSet<ContextSection>();
        var used = wrapperTokens;
        foreach (var item in candidates.OrderByDescending(c => c.Value))
        {
            var cost = tokens.CountTokens(item.Line) + 1 + (open.Contains(item.Section) ? 0 : headerCost[item.Section]);
            if (used + cost > spec.TokenBudget) continue;
            used += cost;
            open.Add(item.Section);
            kept.Add(item);
        }

        // 3. measure the real prompt; token boundaries make costs not quite additive, so drop the least valuable until it fits
        while (true)
        {
            var prompt = Render(spec, kept);
            var count = tokens.CountTokens(prompt);
            if (count <= spec.TokenBudget || kept.Count == 0)
                return new BuiltContext(prompt, count, InRenderOrder(kept),
                    candidates.Where(c => !kept.Contains(c)).OrderByDescending(c => c.Value).ToList());
            kept.Remove(kept.MinBy(k => k.Value)!);
        }
    }

    private async Task<List<ContextItem>> GatherAsync(ContextSpec spec, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var items = new List<ContextItem>();
        var taken = new HashSet<Guid>();
        var sections = spec.Sections;
        var hasQuery = !string.IsNullOrWhiteSpace(spec.Query);
        var searchMemories = hasQuery && sections.Contains(ContextSection.Memories);
        var searchKnowledge = hasQuery && sections.Contains(ContextSection.Knowledge);
        var withEvents = sections.Contains(ContextSection.Events);
        var withPeople = hasQuery && sections.Contains(ContextSection.People);

        // One embedding and one round trip: the query's lexemes with the user's (and knowledge's) current index;
        // metadata only when events are shown (their own date lives there).
        var vector = searchMemories || searchKnowledge ? await embedder.EmbedQueryAsync(spec.Query!, ct) : null;
        var view = await index.OpenAsync(spec.Owner, searchKnowledge, hasQuery ? spec.Query! : "", vector, ct, needMetadata: withEvents);
        var graph = searchMemories || searchKnowledge ? await search.OpenGraphAsync(spec.Owner, view, null, ct) : null;
        if (withPeople && graph?.User is null && !spec.Owner.IsKnowledge) graph = new GraphView((await graphs.OpenAsync(spec.Owner, view, ct)).User, graph?.Knowledge);
        var user = view.User ?? OwnerIndex.Empty;
        var current = Enumerable.Range(0, user.Count).Where(i => user.Rows[i].Memory.ExpiresAt is not { } e || e > now).ToList();

        var picked = new List<(ContextSection Section, Memory Memory, double Score)>();

        // Preferences: current ones only, by importance, whatever the query.
        if (sections.Contains(ContextSection.Preferences))
        {
            var preferences = current.Where(i => user.Rows[i].Memory.Kind == MemoryKind.Preference)
                .OrderByDescending(i => user.Rows[i].Memory.Importance * (0.5 + 0.5 * user.Rows[i].Memory.Confidence)).ThenByDescending(i => user.Rows[i].Memory.ObservedAt).Take(MaxPreferences);
            foreach (var i in preferences)
            {
                var m = user.MemoryAt(i);
                picked.Add((ContextSection.Preferences, m, m.Importance));
                taken.Add(m.Id);
            }
        }

        // Recent events: newest first, gathered before the search so a recent event is shown once, dated, in its own
        // section; the score falls with rank so newer events outlast older ones. A dated plan leaves the section once
        // its own date is more than the window in the past.
        if (withEvents)
        {
            var horizon = DateOnly.FromDateTime(now.UtcDateTime).AddDays(-options.Value.PastEventWindowDays);
            var events = current.Where(i => user.Rows[i].Memory.Kind == MemoryKind.Event)
                .Where(i => EventDate(user.Rows[i].Metadata) is not { } day || day >= horizon)
                .OrderByDescending(i => user.Rows[i].Memory.ObservedAt).ThenByDescending(i => user.Rows[i].Memory.Id)
                .Where(i => taken.Add(user.Rows[i].Memory.Id)).Take(MaxEvents);
            var rank = 0;
            foreach (var i in events)
                picked.Add((ContextSection.Events, user.MemoryAt(i), 1 - (double)rank++ / MaxEvents));
        }

        // Relevant memories: ranked by the search pipeline, without what preferences and recent events already hold.
        if (searchMemories)
        {
            var hits = search.Rank(view with { Knowledge = null }, new SearchQuery(spec.Query!, MaxRelevant + taken.Count, IncludeKnowledge: false), vector!, graph);
            foreach (var hit in hits.Where(h => taken.Add(h.Memory.Id)).Take(MaxRelevant))
                picked.Add((ContextSection.Memories, hit.Memory, hit.Score));
        }

        if (searchKnowledge)
        {
            var hits = search.Rank(view with { User = null }, new SearchQuery(spec.Query!, MaxKnowledge), vector!, graph);
            foreach (var hit in hits.Where(h => taken.Add(h.Memory.Id)))
                picked.Add((ContextSection.Knowledge, hit.Memory, hit.Score));
        }

        // An owner read for this request alone carries only ranked fields: read the picked memories in full.
        if (!view.Complete)
        {
            var full = await search.CompleteAsync(spec.Owner.TenantId, picked.Select(p => p.Memory), ct);
            picked = picked.Where(p => full.ContainsKey(p.Memory.Id)).Select(p => (p.Section, full[p.Memory.Id], p.Score)).ToList();
        }
        items.AddRange(picked.Select(p => Item(p.Section, p.Memory, p.Score, spec.Format)));
        if (withPeople && graph?.User is { } people)
            items.AddRange(await PeopleAsync(spec, people, picked.Where(p => p.Section == ContextSection.Memories).Select(p => (p.Memory.Id, p.Score)), ct));
        return items;
    }

    /// <summary>
    /// The people section: the entities the query names (score 1), then those the relevant memories mention (their score,
    /// halved), never the user; each with its current relations, one line per entity, at most <see cref="MaxPeople"/>.
    /// </summary>
    private async Task<List<ContextItem>> PeopleAsync(ContextSpec spec, OwnerGraph g, IEnumerable<(Guid Memory, double Score)> relevant, CancellationToken ct)
    {
        var scores = new Dictionary<int, double>();
        foreach (var e in g.Named(RuleBasedEntityExtractor.Words(spec.Query!, 64), MaxPeople)) scores[e] = 1;
        foreach (var (memory, score) in relevant)
            if (g.EntitiesOf.TryGetValue(memory, out var mentioned))
                foreach (var e in mentioned)
                    if (!g.IsSelf[e] && scores.GetValueOrDefault(e) < score / 2) scores[e] = score / 2;
        var chosen = scores.OrderByDescending(s => s.Value).ThenBy(s => g.Names[s.Key], StringComparer.Ordinal).Take(MaxPeople).ToList();
        if (chosen.Count == 0) return [];
        await using var c = await dataSource.OpenConnectionAsync(ct);
        var (rows, relations) = await EntityStore.CurrentAsync(c, spec.Owner, chosen.Select(s => g.Ids[s.Key]).ToArray(), MaxPeople * MaxRelationsPerEntity, ct);
        var byId = rows.ToDictionary(r => r.Id);
        var items = new List<ContextItem>();
        foreach (var (e, score) in chosen)
        {
            if (!byId.TryGetValue(g.Ids[e], out var row)) continue; // merged away since the graph was read
            var facts = relations.Where(r => r.SubjectId == row.Id || r.ObjectId == row.Id).Take(MaxRelationsPerEntity).Select(r => Describe(r, row.Id)).ToList();
            var aliases = row.Aliases.Where(a => !a.StartsWith("my ", StringComparison.Ordinal)).Take(3).ToList();
            var content = $"{row.Name} ({EntityStore.TypeName(row.Type)}{(aliases.Count > 0 ? ", " + string.Join(", ", aliases) : "")})" +
                (facts.Count > 0 ? ": " + string.Join("; ", facts) : "");
            var line = spec.Format == ContextFormat.Json ? JsonSerializer.Serialize(new JsonItem(content, null), JsonItemOptions) : $"- {content}";
            items.Add(new ContextItem(ContextSection.People, null, score, null, line, row.Id));
        }
        return items;
    }

    /// <summary>A current relation from one entity's side: "lives in Porto", "the user's sister", "Tom works at Contoso".</summary>
    private static string Describe(RelationRow r, Guid entity)
    {
        var predicate = r.Predicate.Replace('_', ' ');
        var family = !Predicates.Functional.Contains(r.Predicate);
        string Name(string n) => n == "me" ? "the user" : n;
        if (r.ObjectId == entity && family) return $"{Name(r.SubjectName)}'s {predicate}";
        if (r.SubjectId == entity) return family ? $"{predicate}: {Name(r.ObjectName)}" : $"{predicate} {Name(r.ObjectName)}";
        return $"{Name(r.SubjectName)} {predicate} {Name(r.ObjectName)}";
    }

    private static ContextItem Item(ContextSection section, Memory m, double score, ContextFormat format)
    {
        var date = DateOf(m);
        var content = m.Content.ReplaceLineEndings(" ").Trim();
        var line = format == ContextFormat.Json
            ? JsonSerializer.Serialize(new JsonItem(content, date), JsonItemOptions)
            : date is null ? $"- {content}" : $"- {content} ({date})";
        return new ContextItem(section, m, score, date, line);
    }

    /// <summary>
    /// Events happen on a day: their own (a learned plan's date) or else the day they were recorded; preferences and
    /// facts have held since a month. Knowledge is timeless.
    /// </summary>
    public static string? DateOf(Memory m) => m.Kind switch
    {
        MemoryKind.Event => "on " + (EventDate(m.Metadata) ?? DateOnly.FromDateTime(m.ObservedAt.UtcDateTime))
            .ToString("d MMMM yyyy", CultureInfo.InvariantCulture),
        MemoryKind.Preference or MemoryKind.Fact => "since " + m.ObservedAt.UtcDateTime.ToString("MMMM yyyy", CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>The "event_date" (yyyy-MM-dd) that learning stores on a dated event.</summary>
    private static DateOnly? EventDate(JsonElement? metadata) =>
        metadata is { ValueKind: JsonValueKind.Object } meta && meta.TryGetProperty("event_date", out var v) && v.ValueKind == JsonValueKind.String
            ? Day(v.GetString()) : null;

    private static DateOnly? EventDate(JsonObject metadata) =>
        metadata["event_date"] is JsonValue v && v.TryGetValue<string>(out var s) ? Day(s) : null;

    private static DateOnly? Day(string? iso) =>
        DateOnly.TryParseExact(iso, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day : null;

    private static List<ContextItem> InRenderOrder(IEnumerable<ContextItem> kept) =>
        kept.OrderBy(k => k.Section).ThenBy(k => k.Section == ContextSection.Events ? 0 : -k.Score)
            .ThenByDescending(k => k.Memory?.ObservedAt).ThenBy(k => k.Id).ToList();

    private static string Render(ContextSpec spec, List<ContextItem> kept)
    {
        var sections = new Dictionary<ContextSection, string>();
        foreach (var group in InRenderOrder(kept).GroupBy(k => k.Section))
        {
            var separator = spec.Format == ContextFormat.Json ? ",\n" : "\n";
            sections[group.Key] = Wrap(group.Key, string.Join(separator, group.Select(k => k.Line)), spec.Format);
        }
        return spec.Template.Render(sections);
    }

    private static string Wrap(ContextSection section, string body, ContextFormat format) => format switch
    {
        ContextFormat.Markdown => $"## {ContextSections.Heading(section)}\n{body}\n\n",
        ContextFormat.Json => $"{{\"{ContextSections.Name(section)}\": [\n{body}\n]}}\n\n",
        _ => $"{ContextSections.Heading(section)}:\n{body}\n\n",
    };

    internal sealed record JsonItem(string Content, string? Date);

    // Memories are in any language: keep them readable (and cheap in tokens) rather than \u-escaped.
    private static readonly JsonSerializerOptions JsonItemOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The query for a conversation: the latest user turn, then a little of the turns before it.</summary>
    public static string? QueryFrom(IReadOnlyList<(string Role, string Content)> turns, int maxChars = 1000)
    {
        var last = -1;
        for (var i = turns.Count - 1; i >= 0; i--)
            if (turns[i].Role == "user" && !string.IsNullOrWhiteSpace(turns[i].Content)) { last = i; break; }
        if (last < 0) return null;
        var sb = new StringBuilder(turns[last].Content.Trim());
        for (var i = last - 1; i >= Math.Max(0, last - 2) && sb.Length < maxChars; i--)
            if (turns[i].Role is "user" or "assistant") sb.Append('\n').Append(turns[i].Content.Trim());
        return sb.Length > maxChars ? sb.ToString(0, maxChars) : sb.ToString();
    }
}

