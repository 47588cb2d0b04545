using System.Text;
using System.Text.Json;
using MemoryService.Context;

namespace MemoryService.Tests.Context;

// token-texts.json holds 79 varied texts (prose, chat, code, JSON, URLs, eight languages, emoji). The exact counters
// are checked against npm gpt-tokenizer 4's totals for them; the approximate one against the exact cl100k_base count.
public class TokenCounterTests
{
    public sealed record Sample(string Category, string Text);

    public static readonly Sample[] Texts = JsonSerializer.Deserialize<Sample[]>(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Context", "token-texts.json")),
        new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    private static readonly TiktokenTokenCounter Cl100k = new(ContextOptions.Cl100kBase);
    private static readonly TiktokenTokenCounter O200k = new(ContextOptions.O200kBase);
    private readonly ITokenCounter _approximate = ApproximateTokenCounter.Instance;

    public static TheoryData<int, string> TextIndexes()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Texts.Length; i++) data.Add(i, Texts[i].Category);
        return data;
    }

    [Fact]
    public void TextsAreManyAndVaried()
    {
        Assert.True(Texts.Length >= 60, $"only {Texts.Length} texts");
        Assert.True(Texts.Select(t => t.Category).Distinct().Count() >= 15);
    }

    [Theory]
    [InlineData(ContextOptions.O200kBase, 3940)]
    [InlineData(ContextOptions.Cl100kBase, 4353)]
    public void ExactCountersMatchTheReferenceTokenizer(string encoding, int referenceTotal)
    {
        var counter = new TiktokenTokenCounter(encoding);

        Assert.Equal(referenceTotal, Texts.Sum(t => counter.CountTokens(t.Text)));
        Assert.Equal(17, counter.CountTokens(Texts[0].Text));
    }

    [Theory]
    [InlineData(ContextOptions.O200kBase, 3940)]
    [InlineData(ContextOptions.Cl100kBase, 4353)]
    public void CachedCountsStayExactThroughRepeatsAndEvictions(string encoding, int referenceTotal)
    {
        // a cache far smaller than the texts: every pass both hits (the repeat) and evicts (the churn)
        var cached = new TiktokenTokenCounter(encoding, cacheEntries: 3);
        var uncached = new TiktokenTokenCounter(encoding, cacheEntries: 0);
        for (var pass = 0; pass < 3; pass++)
        {
            var total = 0;
            foreach (var t in Texts)
            {
                var first = cached.CountTokens(t.Text);
                Assert.Equal(first, cached.CountTokens(t.Text));
                Assert.Equal(uncached.CountTokens(t.Text), first);
                total += first;
            }
            Assert.Equal(referenceTotal, total);
        }
        // a long text (a whole prompt) is counted, not cached, and still exact
        var prompt = string.Join("\n", Texts.Select(t => t.Text));
        Assert.True(prompt.Length > TiktokenTokenCounter.MaxCachedLength);
        Assert.Equal(uncached.CountTokens(prompt), cached.CountTokens(prompt));
    }

    [Fact]
    public void ConfiguredTokenizerPicksTheCounter()
    {
        Assert.Equal("o200k_base", Assert.IsType<TiktokenTokenCounter>(new ContextOptions().CreateTokenCounter()).Encoding);
        Assert.Equal("cl100k_base", Assert.IsType<TiktokenTokenCounter>(new ContextOptions { Tokenizer = "cl100k_base" }.CreateTokenCounter()).Encoding);
        Assert.IsType<ApproximateTokenCounter>(new ContextOptions { Tokenizer = "approximate" }.CreateTokenCounter());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TiktokenTokenCounter(ContextOptions.O200kBase, -1));
    }

    [Theory]
    [MemberData(nameof(TextIndexes))]
    public void ApproximateIsWithinTenPercentOrTwoTokensOfCl100k(int index, string category)
    {
        var text = Texts[index];
        int exact = Cl100k.CountTokens(text.Text);

        int estimate = _approximate.CountTokens(text.Text);

        double allowed = exact >= 20 ? exact * 0.10 : 2;
        Assert.True(Math.Abs(estimate - exact) <= allowed, $"{category} #{index}: estimated {estimate}, cl100k_base {exact}: {text.Text}");
    }

    [Fact]
    public void ApproximateTotalIsWithinThreePercent()
    {
        int reference = Texts.Sum(t => Cl100k.CountTokens(t.Text));

        int estimate = Texts.Sum(t => _approximate.CountTokens(t.Text));

        Assert.InRange(estimate, reference * 0.97, reference * 1.03);
    }

    [Fact]
    public void EmptyTextIsZeroTokens()
    {
        Assert.Equal(0, _approximate.CountTokens(""));
        Assert.Equal(0, O200k.CountTokens(""));
    }

    [Fact]
    public void NullTextIsRejected()
    {
        Assert.Throws<ArgumentNullException>(() => _approximate.CountTokens(null!));
        Assert.Throws<ArgumentNullException>(() => O200k.CountTokens(null!));
    }

    [Fact]
    public void LongEnglishTextIsNeverUndercountedByMoreThanTenPercent()
    {
        // A budget counted approximately is only safe if a long prompt is not much larger than counted: join every
        // English text into one document of a few thousand tokens and compare with its exact count.
        var english = Texts.Where(t => t.Category is "prose" or "chat" or "memory" or "list" or "markdown" or "system-prompt").ToList();
        var document = new StringBuilder();
        for (int copy = 0; copy < 3; copy++)
            foreach (var text in english) document.Append(text.Text).Append("\n\n");
        int exact = Cl100k.CountTokens(document.ToString());

        int estimate = _approximate.CountTokens(document.ToString());

        Assert.True(estimate >= exact * 0.90, $"estimated {estimate}, cl100k_base {exact}");
    }

    [Fact]
    public void CountingIsThreadSafe()
    {
        foreach (var counter in new ITokenCounter[] { _approximate, O200k })
        {
            var expected = Texts.Select(t => counter.CountTokens(t.Text)).ToArray();

            var results = new int[8][];
            Parallel.For(0, results.Length, worker => results[worker] = Texts.Select(t => counter.CountTokens(t.Text)).ToArray());

            Assert.All(results, r => Assert.Equal(expected, r));
        }
    }
}
