using MemoryService.Embeddings;
using MemoryService.Hosting;
using MemoryService.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Retrieval;

/// <summary>
/// The background embedding worker: fills the vectors of memories stored without one (a batch create does not wait
/// on the model) and re-embeds memories of another model after the configured one changed. Both are the same state
/// in the database (embedding_model not the current model), so the work survives restarts: whatever is pending is
/// picked up at start-up. No schema work: vectors of any length fit the column, and search compares only vectors
/// of the current model (the others still match by keywords and the other signals until they are done).
/// </summary>
public sealed class Reembedder(NpgsqlDataSource dataSource, Embedder embedder, IOptions<EmbeddingsOptions> options, ILogger<Reembedder> logger)
    : BackgroundService
{
    private const int BatchSize = 256;
    private readonly SemaphoreSlim _wake = new(0, 1);
    // Where the last batch of rows without a vector ended: the next batch starts after it, not at the index entries of
    // rows already embedded (dead until vacuum). Back to the start whenever a batch finds fewer than a full one.
    private Guid _after = Guid.Empty;

    /// <summary>Tells the worker there is new pending work (a batch was stored); it runs at once rather than at its next poll.</summary>
    public void Wake()
    {
        try { _wake.Release(); } catch (SemaphoreFullException) { } // already signalled
    }

    /// <summary>Re-embeds one batch; returns how many memories it brought to the current model.</summary>
    public async Task<int> RunBatchAsync(CancellationToken ct)
    {
        var ids = new List<Guid>();
        var versions = new List<int>();
        var texts = new List<string>();
        // three ranges of the (embedding_model, id) index (no vector yet, after the last batch; models sorting before and
        // after the current one), each read in index order and stopped at the batch size, so the cost of a batch does not
        // grow with the memories already embedded
        var start = _after;
        var after = start;
        var unembedded = 0;
        await using (var select = dataSource.CreateCommand("""
            (SELECT id, version, content, true FROM memories WHERE embedding_model IS NULL AND id > $3 ORDER BY embedding_model, id LIMIT $2)
            UNION ALL
            (SELECT id, version, content, false FROM memories WHERE embedding_model < $1 ORDER BY embedding_model, id LIMIT $2)
            UNION ALL
            (SELECT id, version, content, false FROM memories WHERE embedding_model > $1 ORDER BY embedding_model, id LIMIT $2)
            LIMIT $2
            """))
        {
            select.Parameters.AddWithValue(embedder.ModelId);
            select.Parameters.AddWithValue(BatchSize);
            select.Parameters.AddWithValue(start);
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetGuid(0));
                versions.Add(reader.GetInt32(1));
                texts.Add(reader.GetString(2));
                if (reader.GetBoolean(3)) { unembedded++; after = reader.GetGuid(0); }
            }
        }
        _after = unembedded == BatchSize ? after : Guid.Empty;
        if (ids.Count == 0 && start != Guid.Empty) return await RunBatchAsync(ct); // rows before where the last pass ended
        if (ids.Count == 0) return 0;

        var vectors = await embedder.EmbedDocumentsAsync(texts, ct);
        // The version guard skips a memory edited meanwhile: its PATCH already embedded the new content.
        await using var update = dataSource.CreateCommand("""
            UPDATE memories m SET embedding = d.embedding, embedding_model = $1
            FROM unnest($2::uuid[], $3::int[], $4::halfvec[]) AS d(id, version, embedding)
            WHERE m.id = d.id AND m.version = d.version
            """);
        update.Parameters.AddWithValue(embedder.ModelId);
        update.Parameters.AddWithValue(ids.ToArray());
        update.Parameters.AddWithValue(versions.ToArray());
        update.Parameters.AddWithValue(Array.ConvertAll(vectors, VectorMath.ToStored));
        var updated = await update.ExecuteNonQueryAsync(ct);
        return Math.Max(updated, 1);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.BackgroundWorker) return;
        var poll = TimeSpan.FromSeconds(options.Value.BackgroundPollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var total = 0;
                int done;
                while ((done = await RunBatchAsync(stoppingToken)) > 0) total += done;
                if (total > 0) logger.LogInformation("Embedded {Count} pending memories with {Model}", total, embedder.ModelId);
                await _wake.WaitAsync(poll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception ex) when (ex is NpgsqlException or DependencyUnavailableException or InvalidOperationException)
            {
                logger.LogWarning("Background embedding paused: {Message}", ex.Message);
                try { await Task.Delay(poll, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
    }
}

public static class EmbeddingsApi
{
    public sealed record EmbeddingStatus(string Model, long Total, long Current, long Pending);

    public static IEndpointRouteBuilder MapEmbeddingStatus(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/embeddings/status", Status).WithTags("Search").WithName("GetEmbeddingStatus")
            .WithSummary("Which model embeds memories now, and how many of the tenant's memories still wait for the background worker: stored by a batch without a vector yet, or embedded by a previous model.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
    }

    private static async Task<Ok<EmbeddingStatus>> Status(Caller caller, NpgsqlDataSource dataSource, Embedder embedder, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT count(*), count(*) FILTER (WHERE embedding_model = $2) FROM memories WHERE tenant_id = $1
            """);
        cmd.Parameters.AddWithValue(caller.TenantId);
        cmd.Parameters.AddWithValue(embedder.ModelId);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var total = reader.GetInt64(0);
        var current = reader.GetInt64(1);
        return TypedResults.Ok(new EmbeddingStatus(embedder.ModelId, total, current, total - current));
    }
}
