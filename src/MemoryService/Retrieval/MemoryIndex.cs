using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using MemoryService.Memories;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;
using Pgvector;

namespace MemoryService.Retrieval;

/// <summary>One current memory as the index holds it. Immutable: a reload reuses the rows that did not change.</summary>
/// <remarks>An index read for one request only holds no vectors but each row's <see cref="Similarity"/> to that request's query.</remarks>
public sealed record IndexRow(Memory Memory, long Xmin, long Seq, Half[]? Vector, double Norm, string[] Lexemes, JsonElement? Metadata,
    double? Similarity = null)
{
    /// <summary>
    /// What an index row's own <see cref="Memory"/> carries as metadata: never served (<see cref="OwnerIndex.MemoryAt"/>
    /// gives each caller a copy with its own object over <see cref="Metadata"/>, an immutable element that any number
    /// of requests may read at once, which a shared JsonObject is not).
    /// </summary>
    internal static readonly JsonObject Unserved = [];

    internal static JsonElement? ParseMetadata(string? json) => json is null or "{}" ? null : JsonSerializer.Deserialize<JsonElement>(json);
}

/// <summary>
/// One owner's current memories (a user's, or a tenant's knowledge) as search and context read them: the rows in
/// recording order (observed_at, then insertion order), each with its vector and lexemes, and a posting list per
/// lexeme. Immutable but for the access counts searches add locally until the next load.
/// </summary>
public sealed class OwnerIndex
{
    private readonly int[] _accesses;
    private readonly long[] _lastAccess;

    private OwnerIndex(long version, DateTimeOffset loadedAt, IndexRow[] rows, bool withPostings)
    {
        Complete = withPostings;
        Version = version;
        LoadedAt = loadedAt;
        Rows = rows;
        _accesses = new int[rows.Length];
        _lastAccess = new long[rows.Length];
        if (!withPostings) return;

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
            bytes += 420 + 2L * m.Content.Length + 2L * (rows[r].Vector?.Length ?? 0) + 8L * rows[r].Lexemes.Length + 48L * m.Tags.Length
                + (rows[r].Metadata is { } meta ? 160L + 2L * meta.GetRawText().Length : 0) + 2L * (m.Key?.Length ?? 0);
        }
        Postings = postings.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
        Bytes = bytes + Postings.Sum(p => 80L + 2 * p.Key.Length + 4 * p.Value.Length);
    }

    public static readonly OwnerIndex Empty = new(-1, DateTimeOffset.MinValue, [], true);

    /// <summary>The owner's version this snapshot is at least as new as (users.memory_version / tenants.knowledge_version).</summary>
    public long Version { get; }
    public DateTimeOffset LoadedAt { get; }
    /// <summary>
    /// False for an index read for one request: its memories carry only what ranking uses (no content), and the
    /// ones a request returns are read in full before they leave the service.
    /// </summary>
    public bool Complete { get; }
    public IndexRow[] Rows { get; }
    /// <summary>
    /// For each lexeme, the rows holding it, ascending; null for an index read for one request (building it would
    /// cost more than the one search it serves, and its arrays would be garbage a moment later).
    /// </summary>
    public Dictionary<string, int[]>? Postings { get; }
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
        copy.Metadata = Rows[row].Metadata is { } metadata ? JsonObject.Create(metadata)! : [];
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
        tsvector_to_array(search_text)
        """;

    /// <summary>What is served: current (not superseded or ended), not archived.</summary>
    private const string Served = "valid_to IS NULL AND status = 'active'";

    private static string Owned(bool knowledge) => $"tenant_id = $1 AND {(knowledge ? "user_id IS NULL" : "user_id = $2")} AND {Served}";

    /// <summary>An owner's current rows with their vectors ($1 tenant, $2 user), for an index kept in memory.</summary>
    internal static string RowsSql(bool knowledge) => $"SELECT {Columns}, embedding, pinned FROM memories WHERE {Owned(knowledge)}";

    /// <summary>
    /// For an owner read for one request only: what ranking and filters use, with each row's cosine to the query in
    /// place of its vector (then $3 or $2 model, $4 or $3 vector, $5 or $4 whether metadata is needed). A third of
    /// the columns, no vectors on the wire: the rows the request returns are read in full afterwards
    /// (<see cref="SearchPipeline.CompleteAsync"/>).
    /// </summary>
    internal static string QueryRowsSql(bool knowledge)
    {
        var (model, vector, metadata) = knowledge ? ("$2", "$3", "$4") : ("$3", "$4", "$5");
        return $"""
            SELECT id, seq, kind, key, tags, importance, observed_at, created_at, expires_at, access_count,
                   tsvector_to_array(search_text), CASE WHEN {metadata} THEN metadata::text END,
                   CASE WHEN embedding_model = {model} AND vector_dims(embedding) = vector_dims({vector})
                        THEN 1 - (embedding::vector <=> {vector}) END,
                   confidence
            FROM memories WHERE {Owned(knowledge)}
            """;
    }

    internal static NpgsqlBatchCommand RowsCommand(Owner owner) => Command(owner, RowsSql(owner.IsKnowledge));

    internal static NpgsqlBatchCommand QueryRowsCommand(Owner owner, string model, float[] vector, bool metadata)
    {
        var command = Command(owner, QueryRowsSql(owner.IsKnowledge));
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = model });
        command.Parameters.Add(new NpgsqlParameter<Vector> { TypedValue = new Vector(vector) });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = metadata });
        return command;
    }

    /// <summary>Reads the rows of <see cref="QueryRowsSql"/>, in recording order: memories with only the ranked fields.</summary>
    internal static async Task<List<IndexRow>> ReadQueryRowsAsync(NpgsqlDataReader reader, Owner owner, CancellationToken ct)
    {
        var rows = new List<IndexRow>();
        while (await reader.ReadAsync(ct))
        {
            var m = new Memory
            {
                Id = reader.GetGuid(0),
                TenantId = owner.TenantId,
                UserId = owner.UserId,
                Kind = Enum.Parse<MemoryKind>(reader.GetString(2), ignoreCase: true),
                Content = "",
                Key = reader.IsDBNull(3) ? null : reader.GetString(3),
                Tags = reader.GetFieldValue<string[]>(4),
                Importance = reader.GetFloat(5),
                ObservedAt = reader.GetFieldValue<DateTimeOffset>(6),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(7),
                ExpiresAt = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                AccessCount = reader.GetInt32(9),
                Metadata = IndexRow.Unserved,
                Confidence = reader.GetFloat(13),
            };
            rows.Add(new IndexRow(m, 0, reader.GetInt64(1), null, 0, reader.GetFieldValue<string[]>(10),
                IndexRow.ParseMetadata(reader.IsDBNull(11) ? null : reader.GetString(11)), reader.IsDBNull(12) ? null : reader.GetDouble(12)));
        }
        rows.Sort(InRecordingOrder);
        return rows;
    }

    /// <summary>Reads the rows of <see cref="RowsSql"/>, in recording order.</summary>
    internal static async Task<List<IndexRow>> ReadRowsAsync(NpgsqlDataReader reader, Owner owner, HashSet<string> canonical, CancellationToken ct)
    {
        var rows = new List<IndexRow>();
        while (await reader.ReadAsync(ct)) rows.Add(Read(reader, owner, canonical));
        rows.Sort(InRecordingOrder);
        return rows;
    }

    private static int InRecordingOrder(IndexRow a, IndexRow b) => (a.Memory.ObservedAt, a.Seq).CompareTo((b.Memory.ObservedAt, b.Seq));

    internal static OwnerIndex Create(long version, DateTimeOffset loadedAt, List<IndexRow> rows, bool withPostings = true) =>
        new(version, loadedAt, rows.ToArray(), withPostings);

    /// <summary>
    /// The owner's current rows with vectors, for the cache. With a <paramref name="previous"/> snapshot, only rows
    /// that are new or changed (another xmin: any UPDATE, access statistics included) are read in full; the rest
    /// are reused as they are.
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
        batch.BatchCommands.Add(previous is null
            ? RowsCommand(owner)
            : Command(owner, $"SELECT id, xmin::text::bigint FROM memories WHERE {Owned(owner.IsKnowledge)}"));

        long version;
        var canonical = new HashSet<string>(previous?.Rows.SelectMany(r => r.Memory.Tags.Concat(r.Lexemes)) ?? [], StringComparer.Ordinal);
        var wanted = new List<(Guid Id, long Xmin)>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return Empty;
            version = reader.GetInt64(0);
            await reader.NextResultAsync(ct);
            if (previous is null) return Create(version, now, await ReadRowsAsync(reader, owner, canonical, ct));
            while (await reader.ReadAsync(ct)) wanted.Add((reader.GetGuid(0), reader.GetInt64(1)));
        }

        var known = new Dictionary<Guid, IndexRow>(previous.Count);
        foreach (var row in previous.Rows) known[row.Memory.Id] = row;
        var changed = wanted.Where(w => !known.TryGetValue(w.Id, out var row) || row.Xmin != w.Xmin).Select(w => w.Id).ToArray();
        if (changed.Length > 0)
        {
            await using var cmd = new NpgsqlCommand(
                $"SELECT {Columns}, embedding, pinned FROM memories WHERE tenant_id = $1 AND id = ANY($2) AND {Served}", connection);
            cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = changed });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            foreach (var row in await ReadRowsAsync(reader, owner, canonical, ct)) known[row.Memory.Id] = row;
        }
        // A row changed again (or deleted) between the two reads keeps its newer state or drops out: still never older
        // than the version, which has moved on and will bring the next request back here.
        var rows = new List<IndexRow>(wanted.Count);
        foreach (var (id, _) in wanted)
            if (known.TryGetValue(id, out var row)) rows.Add(row);
        rows.Sort(InRecordingOrder);
        return Create(version, now, rows);
    }

    private static NpgsqlBatchCommand Command(Owner owner, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
        if (!owner.IsKnowledge) command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = owner.UserId! });
        return command;
    }

    /// <summary>One string per distinct lexeme, tag or model name in the index, not one per row that holds it.</summary>
    private static string[] Canonical(string[] strings, HashSet<string> canonical)
    {
        for (var i = 0; i < strings.Length; i++)
            if (canonical.TryGetValue(strings[i], out var same)) strings[i] = same;
            else canonical.Add(strings[i]);
        return strings;
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
            Tags = Canonical(reader.GetFieldValue<string[]>(6), canonical),
            Metadata = IndexRow.Unserved,
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
            EmbeddingModel = reader.IsDBNull(20) ? null : Canonical([reader.GetString(20)], canonical)[0],
            Pinned = reader.GetBoolean(23),
        };
        var lexemes = Canonical(reader.GetFieldValue<string[]>(21), canonical);
        var vector = reader.IsDBNull(22) ? null : VectorMath.Halves(reader.GetFieldValue<HalfVector>(22));
        return new IndexRow(m, reader.GetInt64(1), reader.GetInt64(2), vector, vector is null ? 0 : VectorMath.Norm(vector), lexemes,
            IndexRow.ParseMetadata(reader.GetString(7)));
    }
}

/// <summary>
/// What a search or a context build reads, taken in one round trip: the query's lexemes (PostgreSQL's english
/// analysis, as the stored <c>search_text</c> was made) and the current index of the user and of the tenant's
/// knowledge. <see cref="User"/> is null for a knowledge-only view.
/// </summary>
public sealed record IndexView(string[] QueryLexemes, OwnerIndex? User, OwnerIndex? Knowledge)
{
    /// <summary>False when an owner was read for this request only: what it ranks must be read in full before use.</summary>
    public bool Complete => User is not { Complete: false } && Knowledge is not { Complete: false };
}

/// <summary>
/// Keeps owners' indexes in memory, within a byte budget, and proves them current on every use: each request reads
/// the owners' versions (moved by a trigger in the same transaction as any write) with the query's analysis, and
/// a cached index is used only if its version still matches; otherwise only its changed rows are read again.
/// Nothing here needs invalidating by hand, and any number of replicas stay exact.
/// An owner not cached is read for the request alone, with PostgreSQL computing each row's cosine so no vector
/// crosses the wire, and is admitted to the cache while there is room, or once it is requested often.
/// </summary>
public sealed class MemoryIndex : IDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly Embedder _embedder;
    private readonly TimeProvider _clock;
    private readonly MemoryCache? _cache;
    private readonly long _budget;
    private readonly RetrievalOptions _options;
    private readonly ConcurrentDictionary<(Guid, string?), (int Count, long Since)> _misses = new();
    private long _nextAdmission;

    public MemoryIndex(NpgsqlDataSource dataSource, Embedder embedder, IOptions<RetrievalOptions> options, TimeProvider clock)
    {
        _dataSource = dataSource;
        _embedder = embedder;
        _clock = clock;
        _options = options.Value;
        _budget = _options.IndexCacheMegabytes * 1024L * 1024;
        if (_budget > 0)
            _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _budget, CompactionPercentage = 0.1, TrackStatistics = true });
    }

    /// <summary>Indexes read since start (cached, reloaded or read for one request), for tests and benchmarks.</summary>
    public long Loads => Interlocked.Read(ref _loads);
    private long _loads;

    /// <summary>Every request's one statement ($1 tenant, $2 user or null, $3 query text).</summary>
    internal const string OpenSql = """
        SELECT tsvector_to_array(to_tsvector('english', $3)),
               (SELECT memory_version FROM users WHERE tenant_id = $1 AND id = $2), t.knowledge_version
        FROM tenants t WHERE t.id = $1
        """;

    private enum Source { Cached, Load, ForQuery }

    /// <summary>
    /// The query's lexemes and the current index of the user (unless <paramref name="owner"/> is the knowledge owner)
    /// and of the tenant's knowledge (when <paramref name="includeKnowledge"/>), in one round trip when cached or
    /// not; <paramref name="vector"/> is the query's embedding (null: no similarity needed).
    /// </summary>
    public async Task<IndexView> OpenAsync(Owner owner, bool includeKnowledge, string query, float[]? vector, CancellationToken ct,
        bool needMetadata = false)
    {
        var now = _clock.GetUtcNow();
        var parts = new List<(Owner Owner, OwnerIndex? Cached, Source Source)>();
        if (!owner.IsKnowledge) parts.Add(Plan(owner, now));
        if (owner.IsKnowledge || includeKnowledge) parts.Add(Plan(owner with { UserId = null }, now));

        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        var open = new NpgsqlBatchCommand(OpenSql);
        open.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
        open.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        open.Parameters.Add(new NpgsqlParameter<string> { TypedValue = query });
        batch.BatchCommands.Add(open);
        // Rows are read after the versions, in later statements: at least as new as the versions they are labelled with.
        foreach (var part in parts.Where(p => p.Source != Source.Cached))
            batch.BatchCommands.Add(part.Source == Source.Load
                ? OwnerIndex.RowsCommand(part.Owner)
                : OwnerIndex.QueryRowsCommand(part.Owner, vector is null ? "" : _embedder.ModelId, vector ?? [0f], needMetadata)); // "" matches no row

        string[] lexemes;
        var versions = new long?[parts.Count];
        var read = new OwnerIndex?[parts.Count];
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            // A tenant deleted a moment ago (its key still cached): nothing to search.
            if (!await reader.ReadAsync(ct)) return new IndexView([], owner.IsKnowledge ? null : OwnerIndex.Empty, parts.Count > 1 || owner.IsKnowledge ? OwnerIndex.Empty : null);
            lexemes = reader.GetFieldValue<string[]>(0);
            for (var i = 0; i < parts.Count; i++)
                versions[i] = parts[i].Owner.IsKnowledge ? reader.GetInt64(2) : reader.IsDBNull(1) ? null : reader.GetInt64(1);
            for (var i = 0; i < parts.Count; i++)
            {
                if (parts[i].Source == Source.Cached) continue;
                await reader.NextResultAsync(ct);
                var load = parts[i].Source == Source.Load;
                var rows = load
                    ? await OwnerIndex.ReadRowsAsync(reader, parts[i].Owner, new HashSet<string>(StringComparer.Ordinal), ct)
                    : await OwnerIndex.ReadQueryRowsAsync(reader, parts[i].Owner, ct);
                read[i] = versions[i] is { } v ? OwnerIndex.Create(v, now, rows, withPostings: load) : OwnerIndex.Empty;
                Interlocked.Increment(ref _loads);
                if (load && read[i] != OwnerIndex.Empty) Store(parts[i].Owner, read[i]!);
            }
        }

        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i].Source != Source.Cached) continue;
            var cached = parts[i].Cached!;
            if (versions[i] is not { } version) read[i] = OwnerIndex.Empty; // erased: never served from memory
            else if (cached.Version == version && now - cached.LoadedAt < TimeSpan.FromSeconds(_options.IndexMaxAgeSeconds)) read[i] = cached;
            else
            {
                read[i] = await OwnerIndex.LoadAsync(connection, parts[i].Owner, cached, now, ct);
                Interlocked.Increment(ref _loads);
                Store(parts[i].Owner, read[i]!);
            }
        }
        var user = owner.IsKnowledge ? null : read[0];
        var knowledge = parts.Count > (owner.IsKnowledge ? 0 : 1) ? read[^1] : null;
        return new IndexView(lexemes, user, knowledge);
    }

    /// <summary>
    /// Cached; else loaded into the cache while it has room, or when full for an owner asked for at least
    /// <see cref="RetrievalOptions.IndexAdmitAfterRequests"/> times within a minute (one such admission a second at
    /// most, so owners asked for evenly cannot churn the cache); else read for this request only.
    /// </summary>
    private (Owner, OwnerIndex?, Source) Plan(Owner owner, DateTimeOffset now)
    {
        if (_cache is null) return (owner, null, Source.ForQuery);
        var key = (owner.TenantId, owner.UserId);
        if (_cache.Get<OwnerIndex>(key) is { } cached) return (owner, cached, Source.Cached);
        if (_cache.GetCurrentStatistics()?.CurrentEstimatedSize is not { } size || size < _budget * 0.9) return (owner, null, Source.Load);

        var ticks = now.UtcTicks;
        var (count, since) = _misses.AddOrUpdate(key, (1, ticks),
            (_, m) => ticks - m.Since > TimeSpan.TicksPerMinute ? (1, ticks) : (m.Count + 1, m.Since));
        if (_misses.Count > 100_000) _misses.Clear();
        var next = Interlocked.Read(ref _nextAdmission);
        if (count >= _options.IndexAdmitAfterRequests && ticks >= next
            && Interlocked.CompareExchange(ref _nextAdmission, ticks + TimeSpan.TicksPerSecond, next) == next)
        {
            _misses.TryRemove(key, out _);
            return (owner, null, Source.Load);
        }
        return (owner, null, Source.ForQuery);
    }

    private void Store(Owner owner, OwnerIndex index) =>
        _cache?.Set((owner.TenantId, owner.UserId), index, new MemoryCacheEntryOptions { Size = index.Bytes });

    public void Dispose() => _cache?.Dispose();
}
