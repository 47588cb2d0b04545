using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Retrieval;

/// <summary>One current memory as the index holds it. Immutable: a reload reuses the rows that did not change.</summary>
public sealed record IndexRow(Memory Memory, long Xmin, long Seq, float[]? Vector, double Norm, string[] Lexemes);

/// <summary>
/// One owner's current memories (a user's, or a tenant's knowledge) as search and context read them: the rows in
/// recording order (observed_at, then insertion order), each with its vector and lexemes, and a posting list per
/// lexeme. Immutable but for the access counts searches add locally until the next load.
/// </summary>
public sealed class OwnerIndex
{
    private readonly int[] _accesses;
    private readonly long[] _lastAccess;

    private OwnerIndex(long version, DateTimeOffset loadedAt, IndexRow[] rows)
    {
        Version = version;
        LoadedAt = loadedAt;
        Rows = rows;
        var postings = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        long bytes = 256;
        for (var r = 0; r < rows.Length; r++)
        {
            foreach (var lexeme in rows[r].Lexemes)
            {
                if (!postings.TryGetValue(lexeme, out var list)) postings[lexeme] = list = [];
                list.Add(r);
            }
            var m = rows[r].Memory;
            bytes += 420 + 2L * m.Content.Length + 4L * (rows[r].Vector?.Length ?? 0) + 8L * rows[r].Lexemes.Length + 48L * m.Tags.Length
                + 200L * m.Metadata.Count + 2L * (m.Key?.Length ?? 0);
        }
        Postings = postings.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
        Bytes = bytes + Postings.Sum(p => 80L + 2 * p.Key.Length + 4 * p.Value.Length);
        _accesses = new int[rows.Length];
        _lastAccess = new long[rows.Length];
    }

    public static readonly OwnerIndex Empty = new(-1, DateTimeOffset.MinValue, []);

    /// <summary>The owner's version this snapshot is at least as new as (users.memory_version / tenants.knowledge_version).</summary>
    public long Version { get; }
    public DateTimeOffset LoadedAt { get; }
    public IndexRow[] Rows { get; }
    /// <summary>For each lexeme, the rows holding it, ascending.</summary>
    public Dictionary<string, int[]> Postings { get; }
    /// <summary>Approximate managed size, charged against the cache budget.</summary>
    public long Bytes { get; }
    public int Count => Rows.Length;

    /// <summary>Accesses recorded by searches on this replica since the load (the database catches up in batches).</summary>
    public void RecordAccess(int row, DateTimeOffset at)
    {
        Interlocked.Increment(ref _accesses[row]);
        Interlocked.Exchange(ref _lastAccess[row], at.UtcTicks);
    }

    public int AccessCount(int row) => Rows[row].Memory.AccessCount + Volatile.Read(ref _accesses[row]);

    /// <summary>The row's memory as a caller may keep it: a copy carrying the accesses made since the load.</summary>
    public Memory MemoryAt(int row)
    {
        var m = Rows[row].Memory;
        var extra = Volatile.Read(ref _accesses[row]);
        var copy = m.Copy();
        if (extra > 0)
        {
            copy.AccessCount = m.AccessCount + extra;
            copy.LastAccessedAt = new DateTimeOffset(Interlocked.Read(ref _lastAccess[row]), TimeSpan.Zero);
        }
        return copy;
    }

    private const string Columns = """
        id, xmin::text::bigint, seq, kind, content, key, tags, metadata::text, importance, confidence, source, observed_at, created_at,
        updated_at, valid_from, expires_at, superseded_by, version, access_count, last_accessed_at, embedding_model,
        embedding::real[], tsvector_to_array(search_text)
        """;

    private static string Owned(bool knowledge) => $"tenant_id = $1 AND {(knowledge ? "user_id IS NULL" : "user_id = $2")} AND valid_to IS NULL";

    /// <summary>An owner's current rows in recording order ($1 tenant, $2 user). Internal so the bench explains this text.</summary>
    internal static string RowsSql(bool knowledge) => $"SELECT {Columns} FROM memories WHERE {Owned(knowledge)} ORDER BY observed_at, seq";

    /// <summary>
    /// The owner's current rows. With a <paramref name="previous"/> snapshot, only rows that are new or changed
    /// (another xmin: any UPDATE, access statistics included) are read in full; the rest are reused as they are.
    /// </summary>
    internal static async Task<OwnerIndex> LoadAsync(NpgsqlConnection connection, Owner owner, OwnerIndex? previous, DateTimeOffset now,
        CancellationToken ct)
    {
        // The version is read first, in its own statement: the rows read after it are at least that new, so a write
        // committed in between makes the snapshot look older than it is (one extra load), never newer.
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command(owner, owner.IsKnowledge
            ? "SELECT knowledge_version FROM tenants WHERE id = $1"
            : "SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2"));
        batch.BatchCommands.Add(Command(owner, previous is null
            ? RowsSql(owner.IsKnowledge)
            : $"SELECT id, xmin::text::bigint FROM memories WHERE {Owned(owner.IsKnowledge)} ORDER BY observed_at, seq"));

        long version;
        var canonical = new HashSet<string>(previous?.Postings.Keys ?? Enumerable.Empty<string>(), StringComparer.Ordinal);
        var rows = new List<IndexRow>();
        var wanted = new List<(Guid Id, long Xmin)>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return Empty;
            version = reader.GetInt64(0);
            await reader.NextResultAsync(ct);
            if (previous is null)
                while (await reader.ReadAsync(ct)) rows.Add(Read(reader, owner, canonical));
            else
                while (await reader.ReadAsync(ct)) wanted.Add((reader.GetGuid(0), reader.GetInt64(1)));
        }
        if (previous is null) return new OwnerIndex(version, now, rows.ToArray());

        var known = new Dictionary<Guid, IndexRow>(previous.Count);
        foreach (var row in previous.Rows) known[row.Memory.Id] = row;
        var changed = wanted.Where(w => !known.TryGetValue(w.Id, out var row) || row.Xmin != w.Xmin).Select(w => w.Id).ToArray();
        if (changed.Length > 0)
        {
            await using var cmd = new NpgsqlCommand($"SELECT {Columns} FROM memories WHERE tenant_id = $1 AND id = ANY($2) AND valid_to IS NULL", connection);
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = changed });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var row = Read(reader, owner, canonical);
                known[row.Memory.Id] = row;
            }
        }
        // A row changed again (or deleted) between the two reads keeps its newer state or drops out: still never older
        // than the version, which has moved on and will bring the next request back here.
        foreach (var (id, _) in wanted)
            if (known.TryGetValue(id, out var row)) rows.Add(row);
        rows.Sort((a, b) => (a.Memory.ObservedAt, a.Seq).CompareTo((b.Memory.ObservedAt, b.Seq)));
        return new OwnerIndex(version, now, rows.ToArray());
    }

    private static NpgsqlBatchCommand Command(Owner owner, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
        if (!owner.IsKnowledge) command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner.UserId! });
        return command;
    }

    private static IndexRow Read(NpgsqlDataReader reader, Owner owner, HashSet<string> canonical)
    {
        var m = new Memory
        {
            Id = reader.GetGuid(0),
            TenantId = owner.TenantId,
            UserId = owner.UserId,
            Kind = Enum.Parse<MemoryKind>(reader.GetString(3), ignoreCase: true),
            Content = reader.GetString(4),
            Key = reader.IsDBNull(5) ? null : reader.GetString(5),
            Tags = reader.GetFieldValue<string[]>(6),
            Metadata = JsonNode.Parse(reader.GetString(7))!.AsObject(),
            Importance = reader.GetFloat(8),
            Confidence = reader.GetFloat(9),
            Source = Enum.Parse<MemorySource>(reader.GetString(10), ignoreCase: true),
            ObservedAt = reader.GetFieldValue<DateTimeOffset>(11),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(12),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(13),
            ValidFrom = reader.GetFieldValue<DateTimeOffset>(14),
            ExpiresAt = reader.IsDBNull(15) ? null : reader.GetFieldValue<DateTimeOffset>(15),
            SupersededBy = reader.IsDBNull(16) ? null : reader.GetGuid(16),
            Version = reader.GetInt32(17),
            AccessCount = reader.GetInt32(18),
            LastAccessedAt = reader.IsDBNull(19) ? null : reader.GetFieldValue<DateTimeOffset>(19),
            EmbeddingModel = reader.IsDBNull(20) ? null : reader.GetString(20),
        };
        var vector = reader.IsDBNull(21) ? null : reader.GetFieldValue<float[]>(21);
        // One string per distinct lexeme in the index, not one per row that holds it.
        var lexemes = reader.GetFieldValue<string[]>(22);
        for (var i = 0; i < lexemes.Length; i++)
            if (canonical.TryGetValue(lexemes[i], out var same)) lexemes[i] = same;
            else canonical.Add(lexemes[i]);
        return new IndexRow(m, reader.GetInt64(1), reader.GetInt64(2), vector, vector is null ? 0 : VectorMath.Norm(vector), lexemes);
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
        var cached = _cache?.Get<OwnerIndex>(key);
        if (cached is not null && cached.Version == version && now - cached.LoadedAt < _maxAge) return cached;
        var loaded = await OwnerIndex.LoadAsync(connection, owner, cached, now, ct);
        Interlocked.Increment(ref _loads);
        _cache?.Set(key, loaded, new MemoryCacheEntryOptions { Size = loaded.Bytes });
        return loaded;
    }

    public void Dispose() => _cache?.Dispose();
}
