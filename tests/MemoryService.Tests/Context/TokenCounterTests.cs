using System.Text;
using System.Text.Json;
using MemoryService.Context;

namespace MemoryService.Tests.Context;

// The reference is token-fixture.json: real cl100k_base counts written by make-token-fixture.mjs.
public class TokenCounterTests
{
    public sealed record FixtureText(string Category, int Tokens, string Text);

    private static readonly FixtureText[] Fixture = JsonSerializer.Deserialize<FixtureText[]>(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Context", "token-fixture.json")),
        new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    private readonly ITokenCounter _counter = ApproximateTokenCounter.Instance;

    public static TheoryData<int, string> FixtureIndexes()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Fixture.Length; i++) data.Add(i, Fixture[i].Category);
        return data;
    }

    [Fact]
    public void FixtureIsLargeAndVaried()
    {
        Assert.True(Fixture.Length >= 60, $"only {Fixture.Length} texts");
        Assert.True(Fixture.Select(t => t.Category).Distinct().Count() >= 15);
    }

    [Theory]
    [MemberData(nameof(FixtureIndexes))]
    public void EveryFixtureTextIsWithinTenPercentOrTwoTokens(int index, string category)
    {
        var text = Fixture[index];

        int estimate = _counter.CountTokens(text.Text);

        double allowed = text.Tokens >= 20 ? text.Tokens * 0.10 : 2;
        Assert.True(Math.Abs(estimate - text.Tokens) <= allowed,
            $"{category} #{index}: estimated {estimate}, cl100k_base {text.Tokens}: {text.Text}");
    }

    [Fact]
    public void FixtureTotalIsWithinThreePercent()
    {
        int reference = Fixture.Sum(t => t.Tokens);

        int estimate = Fixture.Sum(t => _counter.CountTokens(t.Text));

        Assert.InRange(estimate, reference * 0.97, reference * 1.03);
    }

    [Fact]
    public void EmptyTextIsZeroTokens()
    {
        Assert.Equal(0, _counter.CountTokens(""));
    }

    [Fact]
    public void NullTextIsRejected()
    {
        Assert.Throws<ArgumentNullException>(() => _counter.CountTokens(null!));
    }

    [Fact]
    public void LongEnglishTextIsNeverUndercountedByMoreThanTenPercent()
    {
        // A budget is only safe if a long prompt is not much larger than counted: join every English text
        // of the fixture into one document of a few thousand tokens and compare with the summed reference.
        var english = Fixture.Where(t => t.Category is "prose" or "chat" or "memory" or "list" or "markdown" or "system-prompt").ToList();
        var document = new StringBuilder();
        int reference = 0;
        for (int copy = 0; copy < 3; copy++)
        {
            foreach (var text in english)
            {
                document.Append(text.Text).Append("\n\n");
                reference += text.Tokens + 1; // "\n\n" is one token, and it never merges across the text's own end
            }
        }

        int estimate = _counter.CountTokens(document.ToString());

        Assert.True(estimate >= reference * 0.90, $"estimated {estimate}, reference about {reference}");
    }

    [Fact]
    public void CountingIsThreadSafe()
    {
        var expected = Fixture.Select(t => _counter.CountTokens(t.Text)).ToArray();

        var results = new int[8][];
        Parallel.For(0, results.Length, worker => results[worker] = Fixture.Select(t => _counter.CountTokens(t.Text)).ToArray());

        Assert.All(results, r => Assert.Equal(expected, r));
    }
}
