using Microsoft.Extensions.Options;

namespace MemoryService.Memories;

/// <summary>
/// At most <see cref="MemoriesOptions.ConcurrentWritesPerOwner"/> creates of one owner run their transaction at once on
/// this replica; the rest wait here (cancellable) rather than on the owner's version row in PostgreSQL, where a queue of
/// writers on one row costs PostgreSQL CPU for every one of them. Owners share a fixed set of gates by hash, so memory
/// stays bounded; two owners on one gate only share its capacity. PostgreSQL's row lock still orders the writes.
/// </summary>
public sealed class OwnerWriteGate
{
    private const int Gates = 4096;
    private readonly SemaphoreSlim[] _gates;

    public OwnerWriteGate(IOptions<MemoriesOptions> options)
    {
        var capacity = options.Value.ConcurrentWritesPerOwner;
        _gates = Enumerable.Range(0, Gates).Select(_ => new SemaphoreSlim(capacity, capacity)).ToArray();
    }

    public async Task<IDisposable> EnterAsync(Owner owner, CancellationToken ct)
    {
        var gate = _gates[(uint)HashCode.Combine(owner.TenantId, owner.UserId) % Gates];
        await gate.WaitAsync(ct);
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release(); }
    }
}
