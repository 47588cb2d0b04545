using MemoryService.Memories;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MemoryService.Graph;

public sealed record EntityRow(Guid Id, string Name, EntityType Type, string[] Aliases, bool IsSelf, int MemoryCount,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record RelationRow(Guid Id, Guid SubjectId, string SubjectName, string Predicate, Guid ObjectId, string ObjectName,
    Guid MemoryId, DateTimeOffset ValidFrom, DateTimeOffset? ValidTo);

/// <summary>
/// The entity graph in PostgreSQL: written inside the memory write's transaction (so a memory and its entities commit
/// together), read by the entity routes, changed by merges. Every statement is keyed by tenant and owner.
/// </summary>
public sealed class EntityStore(IEntityExtractor extractor, IOptions<GraphOptions> options, TimeProvider clock)
{
    private const string SelfName = "me";
    private static readonly string[] SelfAliases = ["i", "me", "myself"];

    private sealed class Ent(Guid id, string name, string norm, EntityType type, IEnumerable<string> aliases, bool isSelf, bool isNew)
    {
        public Guid Id = id;
        public string Name = name;
        public string Norm = norm;
        public readonly EntityType Type = type;
        public readonly HashSet<string> Aliases = new(aliases, StringComparer.Ordinal);
        public readonly bool IsSelf = isSelf;
        public readonly bool IsNew = isNew;
        public bool Dirty;
        public bool Placeholder => Norm.StartsWith("my ", StringComparison.Ordinal);
    }

    internal static string OwnerSql(Owner owner, string alias = "") =>
        $"{alias}tenant_id = $1 AND {(owner.IsKnowledge ? $"{alias}user_id IS NULL" : $"{alias}user_id = $2")}";

    private static NpgsqlCommand Command(string sql, NpgsqlConnection c, NpgsqlTransaction? tx, Owner owner)
    {
        var cmd = new NpgsqlCommand(sql, c, tx);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
        // always $2, so statements number their own parameters from $3 whoever the owner is
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return cmd;
    }

    /// <summary>A statement of a batch, with the owner as $1 and $2 like <see cref="Command"/>.</summary>
    private static NpgsqlBatchCommand BatchCommand(string sql, Owner owner)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return cmd;
    }

    /// <summary>Extracts the entities of <paramref name="memories"/> (one owner's) and records them, their links and
    /// relations in the caller's transaction; a constant number of statements per batch, none when nothing was found.
    /// <paramref name="beforeWrites"/> (a statement returning no rows) runs in the round trip of the first write, ahead
    /// of it; false when there was none to run it with (then the caller runs it). With <paramref name="deferred"/> the
    /// last writes (links, relations) are added to it, for the caller to run in a round trip of its own, instead of run.
    /// </summary>
    public async Task<bool> LinkAsync(Owner owner, IReadOnlyList<Memory> memories, NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken ct,
        NpgsqlBatchCommand? beforeWrites = null, List<NpgsqlBatchCommand>? deferred = null)
    {
        if (!options.Value.ExtractOnWrite || memories.Count == 0) return false;

        // 1. the rules, per memory (in memory, microseconds)
        var extracted = new List<(Memory Memory, EntityExtraction Found)>(memories.Count);
        foreach (var m in memories)
        {
            var found = await extractor.ExtractAsync(m.Content, !owner.IsKnowledge, ct);
            if (found.Entities.Count > 0) extracted.Add((m, found));
        }
        if (extracted.Count == 0) return false;

        // 2. the owner's entities any of them could be: by name, by alias, and the owner itself
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, found) in extracted)
            foreach (var e in found.Entities)
            {
                if (e.Name is { } name) keys.Add(RuleBasedEntityExtractor.Normalize(name));
                foreach (var a in e.Aliases) { keys.Add(a); keys.Add("my " + a); }
            }
        var byName = new Dictionary<string, Ent>(StringComparer.Ordinal);
        var byAlias = new Dictionary<string, Ent>(StringComparer.Ordinal);
        Ent? self = null;
        await using (var cmd = Command($"""
            SELECT id, name, norm_name, type, aliases, is_self FROM entities
            WHERE {OwnerSql(owner)} AND (norm_name = ANY($3) OR aliases && $3 OR is_self)
            ORDER BY created_at, id
            """, c, tx, owner))
        {
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.ToArray() });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var ent = new Ent(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), ParseType(reader.GetString(3)),
                    reader.GetFieldValue<string[]>(4), reader.GetBoolean(5), isNew: false);
                Index(ent);
                if (ent.IsSelf) self ??= ent;
            }
        }
        void Index(Ent e)
        {
            byName[e.Norm] = e;
            foreach (var a in e.Aliases) byAlias.TryAdd(a, e);
        }
        var created = new List<Ent>();
        Ent Create(string name, EntityType type, IEnumerable<string> aliases, bool isSelf = false)
        {
            var e = new Ent(Guid.CreateVersion7(), name, RuleBasedEntityExtractor.Normalize(name), type, aliases, isSelf, isNew: true);
            created.Add(e);
            Index(e);
            return e;
        }

        // 3. resolve each mention to one entity: same name (any case), a known alias, or a new entity
        var mentions = new Dictionary<(Guid Memory, Ent Entity), MentionRole>();
        var relations = new List<(Ent Subject, string Predicate, Ent Object, Memory Memory)>();
        foreach (var (memory, found) in extracted)
        {
            var local = new Dictionary<string, Ent>(StringComparer.Ordinal);
            foreach (var e in found.Entities)
            {
                Ent? ent;
                if (e.IsSelf) ent = self ??= Create(SelfName, EntityType.Person, SelfAliases, isSelf: true);
                else if (e.Name is { } name)
                {
                    var norm = RuleBasedEntityExtractor.Normalize(name);
                    ent = byName.GetValueOrDefault(norm) ?? byAlias.GetValueOrDefault(norm);
                    if (ent is null && e.Weak) continue; // a capitalised sentence start: only a name the owner already has
                    if (ent is null && e.Aliases.Select(a => byAlias.GetValueOrDefault(a)).FirstOrDefault(p => p is { Placeholder: true }) is { } placeholder)
                    {
                        // "my sister" said before her name: the same entity, now named
                        byName.Remove(placeholder.Norm);
                        placeholder.Aliases.Add(placeholder.Norm);
                        placeholder.Name = name;
                        placeholder.Norm = norm;
                        placeholder.Dirty = true;
                        byName[norm] = ent = placeholder;
                    }
                    ent ??= Create(name, e.Type, []);
                }
                else
                {
                    var alias = e.Aliases.Count > 0 ? e.Aliases[0] : null;
                    if (alias is null) continue;
                    ent = byAlias.GetValueOrDefault(alias) ?? byName.GetValueOrDefault("my " + alias) ?? Create("my " + alias, e.Type, []);
                }
                foreach (var a in e.Aliases)
                    if (ent.Aliases.Add(a)) { ent.Dirty = true; byAlias.TryAdd(a, ent); }
                local[e.Key] = ent;
                var key = (memory.Id, ent);
                mentions[key] = mentions.TryGetValue(key, out var role) && role < e.Role ? role : e.Role;
            }
            foreach (var r in found.Relations)
                if (local.TryGetValue(r.SubjectKey, out var s) && local.TryGetValue(r.ObjectKey, out var o) && s != o)
                    relations.Add((s, r.Predicate, o, memory));
        }
        if (mentions.Count == 0) return false;

        var now = MemoryStore.Micros(clock.GetUtcNow());
        // 4. new entities (a concurrent write may have made the same one: then its id is used); the insert and the read
        //    of the ids that won go in one round trip
        if (created.Count > 0)
        {
            var ordered = created.OrderBy(e => e.Norm, StringComparer.Ordinal).ToList();
            await using var batch = new NpgsqlBatch(c, tx);
            if (beforeWrites is not null) batch.BatchCommands.Add(beforeWrites);
            beforeWrites = null;
            var insert = BatchCommand("""
                WITH d AS (SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[]) AS d(id, name, norm, type, aliases, is_self))
                INSERT INTO entities (id, tenant_id, user_id, name, norm_name, type, aliases, is_self, created_at, updated_at)
                SELECT d.id, $1, $2, d.name, d.norm, d.type, string_to_array(d.aliases, E'\x1f'), d.is_self, $9, $9 FROM d
                ON CONFLICT DO NOTHING
                """, owner);
            insert.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ordered.Select(e => e.Id).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered.Select(e => e.Name).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered.Select(e => e.Norm).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered.Select(e => TypeName(e.Type)).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered.Select(e => string.Join('\x1f', e.Aliases.Order(StringComparer.Ordinal))).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = ordered.Select(e => e.IsSelf).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            batch.BatchCommands.Add(insert);

            var ids = BatchCommand($"SELECT norm_name, id FROM entities WHERE {OwnerSql(owner)} AND norm_name = ANY($3)", owner);
            ids.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered.Select(e => e.Norm).ToArray() });
            batch.BatchCommands.Add(ids);
            // Npgsql exposes result sets only for statements that return rows: the reader starts at the ids
            await using var reader = await batch.ExecuteReaderAsync(ct);
            var actual = new Dictionary<string, Guid>(StringComparer.Ordinal);
            while (await reader.ReadAsync(ct)) actual[reader.GetString(0)] = reader.GetGuid(1);
            foreach (var e in created)
            {
                e.Dirty = false; // inserted as it is
                if (actual.TryGetValue(e.Norm, out var id) && id != e.Id) { e.Id = id; e.Dirty = true; }
            }
        }

        // 5-7. names and aliases learned for entities that existed, the mentions, the relations and the end of any
        //      relation a later statement contradicts: one round trip
        var writes = new List<NpgsqlBatchCommand>();
        if (beforeWrites is not null) writes.Add(beforeWrites);
        var dirty = byName.Values.Concat(byAlias.Values).Distinct().Where(e => e.Dirty).ToList();
        if (dirty.Count > 0)
        {
            var cmd = BatchCommand($"""
                UPDATE entities e SET name = d.name, norm_name = d.norm,
                       aliases = ARRAY(SELECT DISTINCT a FROM unnest(e.aliases || string_to_array(d.aliases, E'\x1f')) AS a ORDER BY a),
                       updated_at = $6
                FROM unnest($3::uuid[], $4::text[], $5::text[], $7::text[]) AS d(id, name, norm, aliases)
                WHERE e.id = d.id AND {OwnerSql(owner, "e.")}
                """, owner);
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = dirty.Select(e => e.Id).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = dirty.Select(e => e.Name).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = dirty.Select(e => e.Norm).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = dirty.Select(e => string.Join('\x1f', e.Aliases.Order(StringComparer.Ordinal))).ToArray() });
            writes.Add(cmd);
        }

        {
            var cmd = BatchCommand("""
                INSERT INTO entity_mentions (tenant_id, memory_id, entity_id, role)
                SELECT $1, d.memory_id, d.entity_id, d.role FROM unnest($3::uuid[], $4::uuid[], $5::text[]) AS d(memory_id, entity_id, role)
                ON CONFLICT DO NOTHING
                """, owner);
            var list = mentions.ToList();
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = list.Select(m => m.Key.Memory).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = list.Select(m => m.Key.Entity.Id).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = list.Select(m => m.Value.ToString().ToLowerInvariant()).ToArray() });
            writes.Add(cmd);
        }

        if (relations.Count > 0)
        {
            var cmd = BatchCommand("""
                INSERT INTO entity_relations (id, tenant_id, subject_id, predicate, object_id, memory_id, valid_from)
                SELECT d.id, $1, d.s, d.p, d.o, d.m, d.f FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::uuid[], $8::timestamptz[])
                    AS d(id, s, p, o, m, f)
                WHERE NOT EXISTS (SELECT 1 FROM entity_relations r WHERE r.subject_id = d.s AND r.predicate = d.p AND r.object_id = d.o
                                  AND r.valid_to IS NULL AND r.valid_from <= d.f)
                """, owner);
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = relations.Select(_ => Guid.CreateVersion7()).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = relations.Select(r => r.Subject.Id).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = relations.Select(r => r.Predicate).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = relations.Select(r => r.Object.Id).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = relations.Select(r => r.Memory.Id).ToArray() });
            cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = relations.Select(r => r.Memory.ValidFrom).ToArray() });
            writes.Add(cmd);
            var functional = relations.Where(r => Predicates.Functional.Contains(r.Predicate)).Select(r => r.Subject.Id).Distinct().ToArray();
            if (functional.Length > 0) writes.Add(EndContradicted(owner, functional));
        }
        if (deferred is not null) deferred.AddRange(writes);
        else
        {
            await using var batch = new NpgsqlBatch(c, tx);
            foreach (var command in writes) batch.BatchCommands.Add(command);
            await batch.ExecuteNonQueryAsync(ct);
        }
        return true;
    }

    /// <summary>A functional relation (lives_in, works_at) ends when a later one gives the subject another object.</summary>
    private static NpgsqlBatchCommand EndContradicted(Owner owner, Guid[] subjects)
    {
        var cmd = BatchCommand("""
            UPDATE entity_relations r SET valid_to = n.next_from
            FROM (SELECT r2.id, (SELECT min(x.valid_from) FROM entity_relations x
                                 WHERE x.subject_id = r2.subject_id AND x.predicate = r2.predicate AND x.object_id <> r2.object_id
                                   AND x.valid_from > r2.valid_from) AS next_from
                  FROM entity_relations r2
                  WHERE r2.tenant_id = $1 AND r2.subject_id = ANY($3) AND r2.predicate = ANY($4) AND r2.valid_to IS NULL) n
            WHERE r.id = n.id AND n.next_from IS NOT NULL
            """, owner);
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = subjects });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = Predicates.Functional.ToArray() });
        return cmd;
    }

    /// <summary>A memory's content changed: its links and relations are extracted again.</summary>
    public async Task RelinkAsync(Owner owner, Memory memory, NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using (var batch = new NpgsqlBatch(c, tx))
        {
            foreach (var sql in new[] { "DELETE FROM entity_mentions WHERE tenant_id = $1 AND memory_id = $2", "DELETE FROM entity_relations WHERE tenant_id = $1 AND memory_id = $2" })
            {
                var command = new NpgsqlBatchCommand(sql);
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = memory.Id });
                batch.BatchCommands.Add(command);
            }
            await batch.ExecuteNonQueryAsync(ct);
        }
        await LinkAsync(owner, [memory], c, tx, ct);
    }

    /// <summary>Removes every entity of the owner (links and relations go with them).</summary>
    public static async Task DeleteOwnerAsync(Owner owner, NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = Command($"DELETE FROM entities WHERE {OwnerSql(owner)}", c, tx, owner);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    // ---- reads ----

    private const string EntityColumns = """
        e.id, e.name, e.type, e.aliases, e.is_self, (SELECT count(*)::int FROM entity_mentions m WHERE m.entity_id = e.id), e.created_at, e.updated_at
        """;

    private static EntityRow ReadEntity(NpgsqlDataReader r) => new(r.GetGuid(0), r.GetString(1), ParseType(r.GetString(2)),
        r.GetFieldValue<string[]>(3), r.GetBoolean(4), r.GetInt32(5), r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7));

    /// <summary>A page of the owner's entities by name, after <paramref name="after"/> (norm name, id); <paramref name="q"/>
    /// keeps those whose name or an alias contains it.</summary>
    public static async Task<List<(EntityRow Row, string Norm)>> ListAsync(NpgsqlConnection c, Owner owner, string? q, (string Norm, Guid Id)? after,
        int take, CancellationToken ct)
    {
        await using var cmd = Command($"""
            SELECT {EntityColumns}, e.norm_name FROM entities e
            WHERE {OwnerSql(owner, "e.")}
              AND ($3::text IS NULL OR strpos(e.norm_name, $3) > 0 OR EXISTS (SELECT 1 FROM unnest(e.aliases) a WHERE strpos(a, $3) > 0))
              AND ($4::text IS NULL OR (e.norm_name, e.id) > ($4, $5))
            ORDER BY e.norm_name, e.id LIMIT $6
            """, c, null, owner);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)q?.ToLowerInvariant() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)after?.Norm ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = after?.Id ?? Guid.Empty });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = take });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<(EntityRow, string)>();
        while (await reader.ReadAsync(ct)) rows.Add((ReadEntity(reader), reader.GetString(8)));
        return rows;
    }

    public static async Task<EntityRow?> GetAsync(NpgsqlConnection c, NpgsqlTransaction? tx, Owner owner, Guid id, CancellationToken ct)
    {
        await using var cmd = Command($"SELECT {EntityColumns} FROM entities e WHERE {OwnerSql(owner, "e.")} AND e.id = $3", c, tx, owner);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadEntity(reader) : null;
    }

    /// <summary>Relations of the owner's entities (all of them when <paramref name="entity"/> is null), current first.</summary>
    public static async Task<List<RelationRow>> RelationsAsync(NpgsqlConnection c, Owner owner, Guid? entity, int limit, CancellationToken ct)
    {
        await using var cmd = Command($"""
            SELECT r.id, r.subject_id, s.name, r.predicate, r.object_id, o.name, r.memory_id, r.valid_from, r.valid_to
            FROM entity_relations r JOIN entities s ON s.id = r.subject_id JOIN entities o ON o.id = r.object_id
            WHERE {OwnerSql(owner, "s.")} AND ($3::uuid IS NULL OR r.subject_id = $3 OR r.object_id = $3)
            ORDER BY r.valid_to IS NOT NULL, r.valid_from DESC, r.id LIMIT $4
            """, c, null, owner);
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)entity ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<RelationRow>();
        while (await reader.ReadAsync(ct))
            rows.Add(new RelationRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetGuid(4),
                reader.GetString(5), reader.GetGuid(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8)));
        return rows;
    }

    /// <summary>The owner's entities among <paramref name="ids"/> and their current relations (at most
    /// <paramref name="maxRelations"/>, newest first), in one round trip.</summary>
    public static async Task<(List<EntityRow> Entities, List<RelationRow> Relations)> CurrentAsync(NpgsqlConnection c, Owner owner, Guid[] ids,
        int maxRelations, CancellationToken ct)
    {
        string[] sql =
        [
            $"SELECT {EntityColumns} FROM entities e WHERE {OwnerSql(owner, "e.")} AND e.id = ANY($3)",
            $"""
            SELECT r.id, r.subject_id, s.name, r.predicate, r.object_id, o.name, r.memory_id, r.valid_from, r.valid_to
            FROM entity_relations r JOIN entities s ON s.id = r.subject_id JOIN entities o ON o.id = r.object_id
            WHERE {OwnerSql(owner, "s.")} AND r.valid_to IS NULL AND (r.subject_id = ANY($3) OR r.object_id = ANY($3))
            ORDER BY r.valid_from DESC, r.id LIMIT $4
            """,
        ];
        await using var batch = new NpgsqlBatch(c);
        foreach (var text in sql)
        {
            var command = new NpgsqlBatchCommand(text);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.TenantId });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)owner.UserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxRelations });
            batch.BatchCommands.Add(command);
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var entities = new List<EntityRow>();
        while (await reader.ReadAsync(ct)) entities.Add(ReadEntity(reader));
        await reader.NextResultAsync(ct);
        var relations = new List<RelationRow>();
        while (await reader.ReadAsync(ct))
            relations.Add(new RelationRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetGuid(4),
                reader.GetString(5), reader.GetGuid(6), reader.GetFieldValue<DateTimeOffset>(7), null));
        return (entities, relations);
    }

    /// <summary>The ids of the memories that mention an entity, newest first.</summary>
    public static async Task<List<Guid>> MemoryIdsAsync(NpgsqlConnection c, Owner owner, Guid entity, int limit, CancellationToken ct)
    {
        await using var cmd = Command($"""
            SELECT m.memory_id FROM entity_mentions m JOIN entities e ON e.id = m.entity_id
            WHERE {OwnerSql(owner, "e.")} AND e.id = $3 ORDER BY m.memory_id DESC LIMIT $4
            """, c, null, owner);
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = entity });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return ids;
    }

    public enum MergeOutcome { Done, NotFound }

    /// <summary>
    /// Folds <paramref name="source"/> into <paramref name="into"/> under the owner's lock: its links and relations move,
    /// its name and aliases become aliases, it is deleted; the owner's version moves so cached graphs reload.
    /// </summary>
    public async Task<MergeOutcome> MergeAsync(NpgsqlConnection c, Owner owner, Guid source, Guid into, CancellationToken ct)
    {
        await using var tx = await c.BeginTransactionAsync(ct);
        await MemoryStore.LockOwnerAsync(c, tx, owner, ct);
        if (await GetAsync(c, tx, owner, source, ct) is null || await GetAsync(c, tx, owner, into, ct) is null) return MergeOutcome.NotFound;
        string[] statements =
        [
            "INSERT INTO entity_mentions (tenant_id, memory_id, entity_id, role) SELECT tenant_id, memory_id, $4, role FROM entity_mentions WHERE entity_id = $3 ON CONFLICT DO NOTHING",
            "UPDATE entity_relations SET subject_id = $4 WHERE subject_id = $3",
            "UPDATE entity_relations SET object_id = $4 WHERE object_id = $3",
            "DELETE FROM entity_relations WHERE subject_id = $4 AND object_id = $4",
            """
            UPDATE entities e SET aliases = ARRAY(SELECT DISTINCT a FROM unnest(e.aliases || s.aliases || s.norm_name) AS a WHERE a <> e.norm_name ORDER BY a),
                   is_self = e.is_self OR s.is_self, updated_at = $5
            FROM entities s WHERE e.id = $4 AND s.id = $3
            """,
            $"DELETE FROM entities WHERE id = $3 AND {OwnerSql(owner)}",
            owner.IsKnowledge
                ? "UPDATE tenants SET knowledge_version = nextval('memory_versions') WHERE id = $1"
                : "UPDATE users SET memory_version = nextval('memory_versions') WHERE tenant_id = $1 AND id = $2",
        ];
        await using (var batch = new NpgsqlBatch(c, tx))
        {
            foreach (var sql in statements)
            {
                var command = BatchCommand(sql, owner);
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = source });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = into });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = MemoryStore.Micros(clock.GetUtcNow()) });
                batch.BatchCommands.Add(command);
            }
            batch.BatchCommands.Add(EndContradicted(owner, [into]));
            await batch.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return MergeOutcome.Done;
    }

    public static string TypeName(EntityType t) => t.ToString().ToLowerInvariant();
    private static EntityType ParseType(string s) => Enum.Parse<EntityType>(s, ignoreCase: true);
}
