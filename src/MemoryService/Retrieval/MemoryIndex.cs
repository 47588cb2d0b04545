using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Retrieval;

/// <summary>
/// One owner's current memories (a user's, or a tenant's knowledge) as search and context read them: the rows in
/// recording order (observed_at, then insertion order), each row's vector and lexemes, and a posting list per
/// lexeme. Immutable but for the access counts searches add locally until the next load.
/// </summary>
public sealed class OwnerIndex
{
    private OwnerIndex(long version, DateTimeOffset loadedAt, Memory[] memories, long[] seq, float[]?[] vectors, double[] norms, int[][] terms,
        string[] termText, Dictionary<string, int> termIds, int[][] postings, long bytes)
    {
        Version = version;
        LoadedAt = loadedAt;
        Memories = memories;
        Seq = seq;
        Vectors = vectors;
        Norms = norms;
        Terms = terms;
        TermText = termText;
        TermIds = termIds;
        Postings = postings;
        Bytes = bytes;
        Accesses = new int[memories.Length];
        LastAccess = new long[memories.Length];
    }

    public static readonly OwnerIndex Empty = new(-1, DateTimeOffset.MinValue, [], [], [], [], [], [], new(StringComparer.Ordinal), [], 0);

    /// <summary>The owner's version this snapshot is at least as new as (users.memory_version / tenants.knowledge_version).</summary>
    public long Version { get; }
    public DateTimeOffset LoadedAt { get; }
    public Memory[] Memories { get; }
    public long[] Seq { get; }
    public float[]?[] Vectors { get; }
    public double[] Norms { get; }
    /// <summary>Each row's distinct lexemes (ids into <see cref="TermText"/>), as <c>tsvector_to_array(search_text)</c>.</summary>
    public int[][] Terms { get; }
    public string[] TermText { get; }
    public Dictionary<string, int> TermIds { get; }
    /// <summary>For each lexeme id, the rows holding it, ascending.</summary>
    public int[][] Postings { get; }
    /// <summary>Approximate managed size, charged against the cache budget.</summary>
    public long Bytes { get; }
    public int Count => Memories.Length;

    private int[] Accesses { get; }
    private long[] LastAccess { get; }

    /// <summary>Accesses recorded by searches on this replica since the load (the database catches up in batches).</summary>
    public void RecordAccess(int row, DateTimeOffset at)
    {
        Interlocked.Increment(ref Accesses[row]);
        Interlocked.Exchange(ref LastAccess[row], at.UtcTicks);
    }

    public int AccessCount(int row) => Memories[row].AccessCount + Volatile.Read(ref Accesses[row]);

    /// <summary>The row's memory as a caller may keep it: a copy carrying the accesses made since the load.</summary>
    public Memory MemoryAt(int row)
    {
        var m = Memories[row];
        var extra = Volatile.Read(ref Accesses[row]);
        var copy = m.Copy();
        if (extra > 0)
        {
            copy.AccessCount = m.AccessCount + extra;
            copy.LastAccessedAt = new DateTimeOffset(Interlocked.Read(ref LastAccess[row]), TimeSpan.Zero);
        }
        return copy;
    }

    /// <summary>An owner's current rows in recording order ($1 tenant, $2 user). Internal so the bench explains this text.</summary>
    internal static string RowsSql(bool knowledge) => $"""
        SELECT id, kind, content, key, tags, metadata::text, importance, confidence, source, observed_at, created_at, updated_at,
               valid_from, expires_at, superseded_by, version, access_count, last_accessed_at, embedding_model,
               embedding::real[], tsvector_to_array(search_text), seq
        FROM memories
        WHERE tenant_id = $1 AND {(knowledge ? "user_id IS NULL" : "user_id = $2")} AND valid_to IS NULL
        ORDER BY observed_at, seq
        """;

    internal static async Task<OwnerIndex> LoadAsync(NpgsqlConnection connection, Owner owner, DateTimeOffset now, CancellationToken ct)
    {
        // The version is read first, in its own statement: the rows read after it are at least that new, so a write
        // committed in between makes the snapshot look older than it is (one extra load), never newer.
        await using var batch = new NpgsqlBatch(connection);
        var version = owner.IsKnowledge
            ? new NpgsqlBatchCommand("SELECT knowledge_version FROM tenants WHERE id = $1")
            : new NpgsqlBatchCommand("SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2");
        var rows = new NpgsqlBatchCommand(RowsSql(owner.IsKnowledge));
        foreach (var command in new[] { version, rows })
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            if (!owner.IsKnowledge) command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner.UserId! });
            batch.BatchCommands.Add(command);
        }

        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return Empty;
        var v = reader.GetInt64(0);
        await reader.NextResultAsync(ct);

        var memories = new List<Memory>();
        var seq = new List<long>();
        var vectors = new List<float[]?>();
        var terms = new List<int[]>();
        var termIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var termText = new List<string>();
        long bytes = 256;
        while (await reader.ReadAsync(ct))
        {
            var m = new Memory
            {
                Id = reader.GetGuid(0),
                TenantId = owner.TenantId,
                UserId = owner.UserId,
                Kind = Enum.Parse<MemoryKind>(reader.GetString(1), ignoreCase: true),
                Content = reader.GetString(2),
                Key = reader.IsDBNull(3) ? null : reader.GetString(3),
                Tags = reader.GetFieldValue<string[]>(4),
                Metadata = JsonNode.Parse(reader.GetString(5))!.AsObject(),
                Importance = reader.GetFloat(6),
                Confidence = reader.GetFloat(7),
                Source = Enum.Parse<MemorySource>(reader.GetString(8), ignoreCase: true),
                ObservedAt = reader.GetFieldValue<DateTimeOffset>(9),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(10),
                UpdatedAt = reader.GetFieldValue<DateTimeOffset>(11),
                ValidFrom = reader.GetFieldValue<DateTimeOffset>(12),
                ExpiresAt = reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                SupersededBy = reader.IsDBNull(14) ? null : reader.GetGuid(14),
                Version = reader.GetInt32(15),
                AccessCount = reader.GetInt32(16),
                LastAccessedAt = reader.IsDBNull(17) ? null : reader.GetFieldValue<DateTimeOffset>(17),
                EmbeddingModel = reader.IsDBNull(18) ? null : reader.GetString(18),
            };
            var vector = reader.IsDBNull(19) ? null : reader.GetFieldValue<float[]>(19);
            var lexemes = reader.GetFieldValue<string[]>(20);
            var ids = new int[lexemes.Length];
            for (var i = 0; i < lexemes.Length; i++)
            {
                if (!termIds.TryGetValue(lexemes[i], out ids[i]))
                {
                    ids[i] = termIds[lexemes[i]] = termText.Count;
                    termText.Add(lexemes[i]);
                    bytes += 64 + 2L * lexemes[i].Length;
                }
            }
            memories.Add(m);
            seq.Add(reader.GetInt64(21));
            vectors.Add(vector);
            terms.Add(ids);
            bytes += 360 + 2L * m.Content.Length + 4L * (vector?.Length ?? 0) + 4L * ids.Length + 64L * m.Tags.Length
                + (m.Metadata.Count == 0 ? 0 : 4L * reader.GetString(5).Length) + 2L * (m.Key?.Length ?? 0);
        }

        var postings = new List<int>[termText.Count];
        for (var row = 0; row < terms.Count; row++)
            foreach (var t in terms[row]) (postings[t] ??= []).Add(row);
        bytes += 4L * terms.Sum(t => t.Length) + 32L * termText.Count;
        return new OwnerIndex(v, now, memories.ToArray(), seq.ToArray(), vectors.ToArray(),
            vectors.Select(x => x is null ? 0 : VectorMath.Norm(x)).ToArray(), terms.ToArray(), termText.ToArray(), termIds,
            postings.Select(p => p.ToArray()).ToArray(), bytes);
    }
}

/// <summary>
/// What a search or a context build reads, taken in one round trip: the query's lexemes (PostgreSQL's english
/// analysis, as the stored <c>search_text</c> was made) and the current index of the user and of the tenant's
/// knowledge. <see cref="User"/> is null for a knowledge-only view.
/// </summary>
public sealed record IndexView(string[] QueryLexemes, OwnerIndex? User, OwnerIndex? Knowledge, string? TenantTemplate);

/// <summary>
/// Keeps owners' indexes in memory, within a byte budget, and proves them current on every use: each request reads
/// the owners' versions (moved by a trigger in the same transaction as any write) with the query's analysis, and
/// a snapshot is used only if its version still matches; otherwise it is loaded again. Nothing here needs
/// invalidating by hand, and any number of replicas stay exact.
/// </summary>
public sealed class MemoryIndex : IDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _clock;
    private readonly MemoryCache? _cache;
    private readonly TimeSpan _maxAge;

    public MemoryIndex(NpgsqlDataSource dataSource, IOptions<RetrievalOptions> options, TimeProvider clock)
    {
        _dataSource = dataSource;
        _clock = clock;
        var o = options.Value;
        _maxAge = TimeSpan.FromSeconds(o.IndexMaxAgeSeconds);
        if (o.IndexCacheMegabytes > 0)
            _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = o.IndexCacheMegabytes * 1024L * 1024, CompactionPercentage = 0.2 });
    }

    /// <summary>Indexes loaded since start (cache misses), for the status endpoint and benchmarks.</summary>
    public long Loads => Interlocked.Read(ref _loads);
    private long _loads;

    /// <summary>Every request's one statement ($1 tenant, $2 user or null, $3 query text).</summary>
    internal const string OpenSql = """
        SELECT tsvector_to_array(to_tsvector('english', $3)),
               (SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2), t.knowledge_version, t.context_template
        FROM tenants t WHERE t.id = $1
        """;

    public async Task<IndexView> OpenAsync(Owner owner, bool includeKnowledge, string query, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        string[] lexemes;
        long? userVersion, knowledgeVersion;
        string? template;
        await using (var cmd = new NpgsqlCommand(OpenSql, connection))
        {
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new NpgsqlParameter<string> { TypedValue = query });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return new IndexView([], owner.IsKnowledge ? null : OwnerIndex.Empty, OwnerIndex.Empty, null);
            lexemes = reader.GetFieldValue<string[]>(0);
            userVersion = reader.IsDBNull(1) ? null : reader.GetInt64(1);
            knowledgeVersion = reader.GetInt64(2);
            template = reader.IsDBNull(3) ? null : reader.GetString(3);
        }

        OwnerIndex? user = null, knowledge = null;
        if (!owner.IsKnowledge)
            user = userVersion is { } uv ? await GetAsync(connection, owner, uv, ct) : OwnerIndex.Empty;
        if (owner.IsKnowledge || includeKnowledge)
            knowledge = await GetAsync(connection, owner with { UserId = null }, knowledgeVersion.Value, ct);
        return new IndexView(lexemes, user, knowledge, template);
    }

    private async Task<OwnerIndex> GetAsync(NpgsqlConnection connection, Owner owner, long version, CancellationToken ct)
    {
        var key = (owner.TenantId, owner.UserId);
        var now = _clock.GetUtcNow();
        if (_cache?.Get<OwnerIndex>(key) is { } cached && cached.Version == version && now - cached.LoadedAt < _maxAge) return cached;
        var loaded = await OwnerIndex.LoadAsync(connection, owner, now, ct);
        Interlocked.Increment(ref _loads);
        _cache?.Set(key, loaded, new MemoryCacheEntryOptions { Size = loaded.Bytes });
        return loaded;
    }

    public void Dispose() => _cache?.Dispose();
}
