using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MemoryService.Retrieval;

/// <summary>
/// A retrieval counts as an access. Searches only enqueue ids; this service writes the counts in
/// batches off the request path, so a search never waits on an UPDATE.
/// </summary>
public sealed class AccessTracker(NpgsqlDataSource dataSource, IOptions<RetrievalOptions> options, TimeProvider clock,
    ILogger<AccessTracker> logger) : BackgroundService
{
    private readonly Channel<Guid[]> _queue = Channel.CreateBounded<Guid[]>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    public void Record(Guid[] ids) => _queue.Writer.TryWrite(ids);

    /// <summary>Writes everything queued so far (tests and shutdown).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        var counts = new Dictionary<Guid, int>();
        while (_queue.Reader.TryRead(out var ids))
            foreach (var id in ids) counts[id] = counts.GetValueOrDefault(id) + 1;
        if (counts.Count == 0) return;
        // memsvc.access_only (for this transaction only) tells the version trigger that nothing an index holds
        // changed: cached indexes count their own accesses, and stay current.
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var flag = new NpgsqlCommand("SELECT set_config('memsvc.access_only', 'on', true)", connection, tx))
            await flag.ExecuteNonQueryAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            UPDATE memories m SET access_count = m.access_count + d.n, last_accessed_at = $3
            FROM unnest($1::uuid[], $2::int[]) AS d(id, n) WHERE m.id = d.id
            """, connection, tx);
        cmd.Parameters.AddWithValue(counts.Keys.ToArray());
        cmd.Parameters.AddWithValue(counts.Values.ToArray());
        cmd.Parameters.AddWithValue(clock.GetUtcNow());
        await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromMilliseconds(options.Value.AccessFlushMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, stoppingToken);
                await FlushAsync(stoppingToken);
            }
            catch (OperationCanceledException) { break; }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // Access statistics are a ranking hint, not a record: losing a batch during an outage is acceptable.
                logger.LogWarning("Could not write access statistics: {Message}", ex.Message);
            }
        }
        try { await FlushAsync(CancellationToken.None); } catch (NpgsqlException) { }
    }
}
