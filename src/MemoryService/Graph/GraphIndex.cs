using MemoryService.Memories;
using MemoryService.Retrieval;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Graph;

/// <summary>How a memory was reached through the graph: its activation in [0, 1] and the entities on the way.</summary>
public sealed record GraphHit(double Activation, IReadOnlyList<string> Path);

/// <summary>
/// One owner's entity graph as search reads it: names and aliases to entities, entities to the memories that mention
/// them and back. Immutable; labelled with the owner's version (users.memory_version / tenants.knowledge_version) it
/// is at least as new as. Every graph write moves that version in its transaction (memory writes through the
/// memories trigger, merges explicitly).
/// </summary>
public sealed class OwnerGraph
{
    public required long Version { get; init; }
    public required Guid[] Ids { get; init; }
    public required string[] Names { get; init; }
    public required bool[] IsSelf { get; init; }
    /// <summary>Normalised name or alias → entities (never the owner's self).</summary>
    public required Dictionary<string, int[]> Lookup { get; init; }
    /// <summary>Per entity, the memories mentioning it, oldest first.</summary>
    public required Guid[][] Memories { get; init; }
    /// <summary>Per memory, the entities it mentions.</summary>
    public required Dictionary<Guid, int[]> EntitiesOf { get; init; }
    public int LongestKey { get; init; }
    public long Bytes { get; init; }

    public static readonly OwnerGraph Empty = new() { Version = -1, Ids = [], Names = [], IsSelf = [], Lookup = [], Memories = [], EntitiesOf = [] };

    /// <summary>
    /// Spreading activation from the entities the query names (longest name or alias first): hop 1 gives the memories
    /// mentioning a seed the seed's activation (1), scaled by the fan effect 1 / (1 + ln fan) so an entity mentioned
    /// everywhere says little; each further hop passes decay × that on through the other entities those memories
    /// mention. Bounded: seeds, entities per hop and memories per entity are capped.
    /// </summary>
    public void Spread(IReadOnlyList<string> words, GraphOptions o, Dictionary<Guid, GraphHit> into)
    {
        if (Names.Length == 0) return;
        var frontier = new Dictionary<int, (double Activation, string[] Path)>();
        foreach (var e in Named(words, o.MaxSeedEntities)) frontier.TryAdd(e, (1.0, [Names[e]]));
        var visited = new HashSet<int>(frontier.Keys);
        for (var hop = 1; hop <= o.Hops && frontier.Count > 0; hop++)
        {
            var next = new Dictionary<int, (double Activation, string[] Path)>();
            foreach (var (e, (activation, path)) in frontier.OrderByDescending(f => f.Value.Activation).ThenBy(f => f.Key).Take(o.MaxEntitiesPerHop))
            {
                var memories = Memories[e];
                var strength = activation / (1 + Math.Log(Math.Max(1, memories.Length)));
                for (var k = memories.Length - 1; k >= 0 && k >= memories.Length - o.MaxMemoriesPerEntity; k--)
                {
                    var m = memories[k];
                    if (!into.TryGetValue(m, out var hit) || hit.Activation < strength) into[m] = new GraphHit(strength, path);
                    if (hop == o.Hops || !EntitiesOf.TryGetValue(m, out var others)) continue;
                    foreach (var other in others)
                    {
                        if (IsSelf[other] || visited.Contains(other)) continue;
                        var passed = strength * o.Decay;
                        if (!next.TryGetValue(other, out var known) || known.Activation < passed) next[other] = (passed, [.. path, Names[other]]);
                    }
                }
            }
            foreach (var e in next.Keys) visited.Add(e);
            frontier = next;
        }
    }

    /// <summary>The entities <paramref name="words"/> name (by name or alias, longest match first), at most <paramref name="max"/>.</summary>
    public List<int> Named(IReadOnlyList<string> words, int max)
    {
        var named = new List<int>();
        for (var i = 0; i < words.Count && named.Count < max; i++)
            for (var n = Math.Min(LongestKey, words.Count - i); n >= 1; n--)
            {
                var key = n == 1 ? words[i] : string.Join(' ', words.Skip(i).Take(n));
                if (!Lookup.TryGetValue(key, out var entities)) continue;
                foreach (var e in entities) if (!named.Contains(e)) named.Add(e);
                i += n - 1;
                break;
            }
        return named.Count > max ? named[..max] : named;
    }

    internal static async Task<OwnerGraph> LoadAsync(NpgsqlConnection c, Owner owner, CancellationToken ct)
    {
        // The version first: what is read after it is at least that new.
        await using var batch = new NpgsqlBatch(c);
        string[] sql =
        [
            owner.IsKnowledge ? "SELECT knowledge_version FROM tenants WHERE id = $1" : "SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2",
            $"SELECT id, name, norm_name, aliases, is_self FROM entities WHERE {EntityStore.OwnerSql(owner)}",
            $"SELECT m.entity_id, m.memory_id FROM entity_mentions m JOIN entities e ON e.id = m.entity_id WHERE {EntityStore.OwnerSql(owner, "e.")} ORDER BY m.memory_id",
        ];
        foreach (var s in sql)
        {
            var command = new NpgsqlBatchCommand(s);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            if (!owner.IsKnowledge) command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner.UserId! });
            batch.BatchCommands.Add(command);
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return Empty;
        var version = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        var index = new Dictionary<Guid, int>();
        var names = new List<string>();
        var ids = new List<Guid>();
        var self = new List<bool>();
        var lookup = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        long bytes = 256;
        while (await reader.ReadAsync(ct))
        {
            var i = names.Count;
            index[reader.GetGuid(0)] = i;
            ids.Add(reader.GetGuid(0));
            names.Add(reader.GetString(1));
            var isSelf = reader.GetBoolean(4);
            self.Add(isSelf);
            bytes += 120 + 4L * names[i].Length;
            if (isSelf) continue;
            foreach (var key in reader.GetFieldValue<string[]>(3).Append(reader.GetString(2)).Distinct())
            {
                if (!lookup.TryGetValue(key, out var list)) lookup[key] = list = [];
                list.Add(i);
                bytes += 60 + 2L * key.Length;
            }
        }
        await reader.NextResultAsync(ct);
        var memories = Enumerable.Range(0, names.Count).Select(_ => new List<Guid>()).ToArray();
        var of = new Dictionary<Guid, List<int>>();
        while (await reader.ReadAsync(ct))
        {
            if (!index.TryGetValue(reader.GetGuid(0), out var e)) continue;
            var m = reader.GetGuid(1);
            memories[e].Add(m);
            if (!of.TryGetValue(m, out var list)) of[m] = list = [];
            list.Add(e);
            bytes += 60;
        }
        return new OwnerGraph
        {
            Version = version, Ids = ids.ToArray(), Names = names.ToArray(), IsSelf = self.ToArray(),
            Lookup = lookup.ToDictionary(l => l.Key, l => l.Value.ToArray(), StringComparer.Ordinal),
            Memories = memories.Select(l => l.ToArray()).ToArray(),
            EntitiesOf = of.ToDictionary(l => l.Key, l => l.Value.ToArray()),
            LongestKey = lookup.Count == 0 ? 0 : Math.Min(6, lookup.Keys.Max(k => k.Count(ch => ch == ' ') + 1)),
            Bytes = bytes,
        };
    }
}

/// <summary>The graphs one search reads (the user's and the tenant knowledge's).</summary>
public sealed record GraphView(OwnerGraph? User, OwnerGraph? Knowledge)
{
    /// <summary>The memories the query reaches through entities, best activation per memory.</summary>
    public Dictionary<Guid, GraphHit> Activate(string query, GraphOptions o)
    {
        var hits = new Dictionary<Guid, GraphHit>();
        var words = RuleBasedEntityExtractor.Words(query, 64);
        User?.Spread(words, o, hits);
        Knowledge?.Spread(words, o, hits);
        return hits;
    }
}

/// <summary>
/// Owners' graphs in memory, proven current on every use against the version the search's own index view was opened
/// at (read in that request's one round trip): a graph at another version is read again, so nothing is ever stale and
/// nothing needs invalidating by hand.
/// </summary>
public sealed class GraphIndex(NpgsqlDataSource dataSource, IOptions<GraphOptions> options) : IDisposable
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = Math.Max(1, options.Value.CacheEntries) });

    public GraphOptions Options => options.Value;

    public async Task<GraphView> OpenAsync(Owner owner, IndexView view, CancellationToken ct)
    {
        NpgsqlConnection? connection = null;
        try
        {
            async Task<OwnerGraph?> Part(Owner part, OwnerIndex? index)
            {
                if (index is null || index.Count == 0) return null;
                var key = (part.TenantId, part.UserId);
                if (_cache.Get<OwnerGraph>(key) is { } cached && cached.Version == index.Version) return cached;
                connection ??= await dataSource.OpenConnectionAsync(ct);
                var loaded = await OwnerGraph.LoadAsync(connection, part, ct);
                if (options.Value.CacheEntries > 0) _cache.Set(key, loaded, new MemoryCacheEntryOptions { Size = 1 });
                return loaded;
            }
            var user = owner.IsKnowledge ? null : await Part(owner, view.User);
            var knowledge = await Part(owner with { UserId = null }, view.Knowledge);
            return new GraphView(user, knowledge);
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    public void Dispose() => _cache.Dispose();
}
