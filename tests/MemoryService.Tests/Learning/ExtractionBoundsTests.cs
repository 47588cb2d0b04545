using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MemoryService.Learning;
using MemoryService.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MemoryService.Tests.Learning;

/// <summary>
/// Hostile text cannot pin a core: each adversarial message, built from the extractor's own phrase lists, is read
/// in well under a second (the bound is generous on purpose: it separates linear from exponential, not fast from slow).
/// </summary>
public sealed class ExtractionBoundsTests(ApiFactory factory, ITestOutputHelper output) : IClassFixture<ApiFactory>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);
    private static readonly DateTimeOffset ObservedAt = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    // Words from the patterns' lists: leading and trailing chatter, trailing fillers, adverbs, modifiers, list joiners.
    private static readonly string[] Fillers =
    [
        "thanks", "thank you", "btw", "tbh", "lol", "haha", "by the way", "fyi", "honestly", "please", "just so you know",
        "from now on", "a lot", "a little", "so much", "very much", "too", "as well", "anymore", "these days", "lately",
        "nowadays", "now", "at all", "really", "though", "on weekends", "every day", "in my free time", "for good", "again",
        "either", "in general", "the most", "here", "absolutely", "just", "truly", "totally", "also", "actually", "kind of",
        "so", "do", "definitely", "usually", "always", "mostly", "only", "currently", "very", "hi", "hey", "ok", "well",
        "oh", "and", "but", "yeah", "cool", "great", "sure", "nice", "remember", "note that", "severe", "mild", "little",
        "big", "huge", "fan of", "into", "happily", "recently", "originally", "a", "an", ",", ";", "-", "and I", "my",
        "next", "this", "on the", "at", "in", "with", "from", "to", "over", "or", "&", "/", ":)", "!", ".", "?",
    ];

    private static readonly string[] Openers =
    [
        "I like tea ", "I really ", "I am ", "I have ", "my favourite ", "I prefer coffee over ", "I switched from ", "I live with ",
        "call me ", "I moved from ", "I am allergic to ", "I have a ", "my sister ", "we have two ", "please always ", "I am a ",
        "I speak ", "I do not eat ", "I am going to ", "my ", "I ", "",
    ];

    public static IEnumerable<object[]> AdversarialMessages()
    {
        foreach (var filler in Fillers)
        {
            yield return [$"run of '{filler}' x40", "I like tea " + Repeat(filler + " ", 40) + "x"];
            yield return [$"run of '{filler}' to 8000 chars", Fill("I like tea ", filler + " ", "x")];
            yield return [$"run of '{filler},' to 8000 chars", Fill("I am ", filler + ", ", "!")];
        }
        foreach (var opener in Openers)
        {
            yield return [$"'{opener}' x200", Repeat(opener, 200)];
            yield return [$"'{opener}' then spaces to 8000", Fill(opener, " ", "x")];
            yield return [$"'{opener}' then fillers", Fill(opener, string.Join(' ', Fillers) + " ", "x")];
        }
        yield return ["8000 chars of one word", new string('a', 8000)];
        yield return ["8000 chars of whitespace and letters", Fill("I like ", " \t ", "tea")];
        yield return ["short sentences to 8000 chars", Fill("", "I like tea. ", "")];
        yield return ["clauses to 8000 chars", Fill("", "I like tea, and I love cats, ", "")];
        yield return ["lines to 8000 chars", Fill("", "I have a dog\n", "")];
        yield return ["dates to 8000 chars", Fill("I am flying to Rome ", "next Friday on March 3 in two weeks ", "")];
    }

    [Theory]
    [MemberData(nameof(AdversarialMessages))]
    public async Task AdversarialMessageIsReadWellUnderASecond(string name, string message)
    {
        var extractor = new RuleBasedMemoryExtractor();
        await extractor.ExtractAsync([new ConversationMessage("user", "warm up")], ObservedAt);

        var watch = Stopwatch.StartNew();
        await extractor.ExtractAsync([new ConversationMessage("user", message)], ObservedAt);
        watch.Stop();

        Assert.True(watch.Elapsed < Bound, $"{name} ({message.Length} chars) took {watch.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task HundredAdversarialMessagesInOneConversationAreBounded()
    {
        var message = Fill("I like tea ", "thanks ", "x");
        var messages = Enumerable.Range(0, 100).Select(_ => new ConversationMessage("user", message)).ToList();

        var watch = Stopwatch.StartNew();
        await new RuleBasedMemoryExtractor().ExtractAsync(messages, ObservedAt);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"100 x 8,000 chars took {watch.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Theory]
    [InlineData(24)]
    [InlineData(1000)]
    public async Task TrailingThanksRunExtractsQuicklyOverHttp(int n)
    {
        using var tenant = await factory.NewTenantAsync();
        var said = "I like tea " + Repeat("thanks ", n) + "x";
        var content = said.Length > 8000 ? said[..8000] : said;
        await tenant.Http.PostAsJsonAsync($"/v1/users/{LearningApiTests.NewUser()}/memories/extract",
            new { messages = new[] { new { role = "user", content = "warm up" } }, dry_run = true }, ApiFactory.Json);

        var watch = Stopwatch.StartNew();
        var response = await tenant.Http.PostAsJsonAsync($"/v1/users/{LearningApiTests.NewUser()}/memories/extract",
            new { messages = new[] { new { role = "user", content } }, dry_run = true }, ApiFactory.Json);
        watch.Stop();
        output.WriteLine($"n={n}, {content.Length} chars: {watch.Elapsed.TotalMilliseconds:F1} ms");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed < Bound, $"n={n} took {watch.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void EveryPatternInTheServiceRunsLinearOrWithATimeout()
    {
        var patterns = typeof(RuleBasedMemoryExtractor).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(Regex) && m.GetParameters().Length == 0 && !m.IsGenericMethodDefinition)
            .Select(m => (Name: $"{m.DeclaringType!.Name}.{m.Name}", Regex: (Regex)m.Invoke(null, null)!))
            .ToList();

        Assert.True(patterns.Count > 50, $"found only {patterns.Count} patterns");
        var unbounded = patterns.Where(p => !p.Regex.Options.HasFlag(RegexOptions.NonBacktracking) && p.Regex.MatchTimeout == Regex.InfiniteMatchTimeout)
            .Select(p => p.Name).ToList();
        Assert.Empty(unbounded);
    }

    [Fact]
    public async Task MessagesBeyondTheClauseBoundAreNotRead()
    {
        // 150 one-clause sentences: only the first 100 are read, so the last statements are not learned.
        var sentences = Enumerable.Range(0, 149).Select(i => "Ok. ").Append("I have a dog.");
        var result = await new RuleBasedMemoryExtractor().ExtractAsync([new ConversationMessage("user", string.Concat(sentences))], ObservedAt);
        Assert.Empty(result.Candidates);

        var within = await new RuleBasedMemoryExtractor().ExtractAsync(
            [new ConversationMessage("user", string.Concat(Enumerable.Repeat("Ok. ", 20)) + "I have a dog.")], ObservedAt);
        Assert.Single(within.Candidates);
    }

    private static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n));

    private static string Fill(string head, string unit, string tail)
    {
        var sb = new StringBuilder(head);
        while (sb.Length + unit.Length + tail.Length <= 8000) sb.Append(unit);
        return sb.Append(tail).ToString();
    }
}
