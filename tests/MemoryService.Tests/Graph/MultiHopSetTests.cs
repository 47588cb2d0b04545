using MemoryService.Retrieval;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Graph;

/// <summary>The hand-written multi-hop set through the API with the default configuration: the graph signal must put both
/// supporting memories in the top 10 for more questions than the same ranking without it (bench "graph" prints the figures).</summary>
public sealed class MultiHopSetTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly MultiHopSet Set = MultiHopSet.Load(Path.Combine(AppContext.BaseDirectory, "Graph", "multihop-set.json"));

    [Fact]
    public void TheSetHasAtLeastFortyQuestionsEachWithTwoSupportsInItsProfile()
    {
        Assert.True(Set.Questions >= 40, $"{Set.Questions} questions");
        foreach (var p in Set.Profiles)
            foreach (var q in p.Questions)
            {
                Assert.Equal(2, q.Support.Distinct().Count());
                Assert.All(q.Support, s => Assert.Contains(s, p.Memories));
            }
    }

    [Fact]
    public async Task WithTheGraphMoreQuestionsHaveBothSupportsInTheTop10()
    {
        using var t = await api.NewTenantAsync();
        await Set.IngestAsync(t.Http, ApiFactory.Json, "without");
        await Set.IngestAsync(t.Http, ApiFactory.Json, "with");
        await ApiFactory.WaitForEmbeddingsAsync(t.Http, seconds: 60);

        var (without, _) = await Set.EvaluateAsync(t.Http, ApiFactory.Json, "without", new RankingWeights { Graph = 0 });
        var (with, _) = await Set.EvaluateAsync(t.Http, ApiFactory.Json, "with", new RankingWeights());
        Assert.True(with > without, $"both supports in the top 10: {with:0.000} with the graph, {without:0.000} without");
    }
}
