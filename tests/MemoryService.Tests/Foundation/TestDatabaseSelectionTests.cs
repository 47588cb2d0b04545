using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Foundation;

public class TestDatabaseSelectionTests
{
    [Theory]
    [InlineData("Host=db;Username=postgres", true, TestDatabaseSource.External)]
    [InlineData("Host=db;Username=postgres", false, TestDatabaseSource.External)]
    [InlineData(null, true, TestDatabaseSource.Container)]
    [InlineData("  ", true, TestDatabaseSource.Container)]
    [InlineData(null, false, TestDatabaseSource.Embedded)]
    [InlineData("", false, TestDatabaseSource.Embedded)]
    public void ExternalThenContainerThenEmbedded(string? external, bool dockerReachable, TestDatabaseSource expected)
    {
        Assert.Equal(expected, TestDatabase.Choose(external, dockerReachable));
    }

    [Fact]
    public async Task ThisRunUsesTheSourceTheRulesPickForThisMachine()
    {
        await using var probe = TestDatabase.TryBuildContainer();
        var expected = TestDatabase.Choose(Environment.GetEnvironmentVariable("MEMORY_TEST_DATABASE"), probe is not null);

        Assert.Equal(expected, TestDatabase.Source);
    }
}
