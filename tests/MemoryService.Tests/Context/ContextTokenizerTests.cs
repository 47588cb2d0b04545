using MemoryService.Context;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Context;

public sealed class Cl100kApiFactory : ApiFactory
{
    public Cl100kApiFactory() => Settings["Context:Tokenizer"] = "cl100k_base";
}

public sealed class ApproximateApiFactory : ApiFactory
{
    public ApproximateApiFactory() => Settings["Context:Tokenizer"] = "approximate";
}

public sealed class Cl100kContextTests(Cl100kApiFactory factory) : IClassFixture<Cl100kApiFactory>
{
    [Theory]
    [InlineData(50)]
    [InlineData(300)]
    [InlineData(1500)]
    [InlineData(4000)]
    public async Task BudgetIsNeverExceededInCl100kBase(int budget) =>
        await ContextApiTests.BudgetHoldsAsync(factory, budget, new TiktokenTokenCounter("cl100k_base"));
}

public sealed class ApproximateContextTests(ApproximateApiFactory factory) : IClassFixture<ApproximateApiFactory>
{
    [Theory]
    [InlineData(50)]
    [InlineData(800)]
    [InlineData(4000)]
    public async Task BudgetIsNeverExceededInTheApproximateCount(int budget) =>
        await ContextApiTests.BudgetHoldsAsync(factory, budget, ApproximateTokenCounter.Instance);
}
