using System.Diagnostics;
using MemoryService.Learning;
using Xunit.Abstractions;
namespace MemoryService.Tests.Learning;
public sealed class TmpTiming(ITestOutputHelper output)
{
    [Fact]
    public async Task Measure()
    {
        var x = new RuleBasedMemoryExtractor();
        foreach (var n in new[] { 10, 16, 20, 22, 24, 24, 24, 40 })
        {
            var said = "I like tea " + string.Concat(Enumerable.Repeat("thanks ", n)) + "x";
            var w = Stopwatch.StartNew();
            var r = await x.ExtractAsync([new ConversationMessage("user", said)], DateTimeOffset.UtcNow);
            output.WriteLine($"n={n} {said.Length} chars: {w.Elapsed.TotalMilliseconds:F1} ms, {r.Candidates.Count} cand {string.Join("|", r.Candidates.Select(c => c.Content))}");
        }
        var big = "I like tea " + string.Concat(Enumerable.Repeat("thanks ", 1141));
        big = big[..Math.Min(big.Length, 7999)] + "x";
        var w2 = Stopwatch.StartNew();
        await x.ExtractAsync([new ConversationMessage("user", big)], DateTimeOffset.UtcNow);
        output.WriteLine($"8000: {big.Length} chars {w2.Elapsed.TotalMilliseconds:F1} ms");
    }
}
