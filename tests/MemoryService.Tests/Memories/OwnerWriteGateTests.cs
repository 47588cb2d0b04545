using MemoryService.Memories;
using Microsoft.Extensions.Options;

namespace MemoryService.Tests.Memories;

public sealed class OwnerWriteGateTests
{
    private static OwnerWriteGate Gate(int capacity) =>
        new(Options.Create(new MemoriesOptions { ConcurrentWritesPerOwner = capacity }));

    [Fact]
    public async Task OneOwnersWritersBeyondTheCapacityWaitUntilOneLeavesAndOtherOwnersDoNot()
    {
        var gate = Gate(2);
        var owner = new Owner(Guid.NewGuid(), "u");
        var first = await gate.EnterAsync(owner, CancellationToken.None);
        var second = await gate.EnterAsync(owner, CancellationToken.None);

        var third = gate.EnterAsync(owner, CancellationToken.None);
        await Task.Delay(100);
        Assert.False(third.IsCompleted);

        // another owner (almost surely on another of the gates) goes straight in
        var other = gate.EnterAsync(new Owner(Guid.NewGuid(), "v"), CancellationToken.None);
        Assert.True(other.IsCompletedSuccessfully);

        first.Dispose();
        first.Dispose(); // a second release gives nothing back twice
        (await third.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        var fourth = gate.EnterAsync(owner, CancellationToken.None);
        Assert.True(fourth.IsCompletedSuccessfully);
        Assert.False(gate.EnterAsync(owner, CancellationToken.None).IsCompleted);
        second.Dispose();
    }

    [Fact]
    public async Task AWaitingWriterWhoseRequestIsCancelledLeavesWithoutTakingATurn()
    {
        var gate = Gate(1);
        var owner = new Owner(Guid.NewGuid(), null);
        var held = await gate.EnterAsync(owner, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = gate.EnterAsync(owner, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        held.Dispose();
        Assert.True(gate.EnterAsync(owner, CancellationToken.None).IsCompletedSuccessfully);
    }
}
