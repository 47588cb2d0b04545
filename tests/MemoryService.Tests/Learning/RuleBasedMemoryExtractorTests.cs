using MemoryService.Learning;
using MemoryService.Memories;

namespace MemoryService.Tests.Learning;

public sealed class RuleBasedMemoryExtractorTests
{
    // A Friday, so weekday arithmetic is easy to check by hand.
    private static readonly DateTimeOffset ObservedAt = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    private readonly RuleBasedMemoryExtractor _extractor = new();

    private async Task<IReadOnlyList<MemoryCandidate>> ExtractAsync(params string[] userTurns)
    {
        var messages = userTurns.Select(t => new ConversationMessage(ConversationMessage.User, t)).ToList();
        return (await _extractor.ExtractAsync(messages, ObservedAt)).Candidates;
    }

    [Fact]
    public async Task NegatedLikeBecomesDislikeWithSameKey()
    {
        var liked = Assert.Single(await ExtractAsync("I love horror movies."));
        var disliked = Assert.Single(await ExtractAsync("I don't like horror movies."));

        Assert.Equal(liked.Key, disliked.Key);
        Assert.StartsWith("Loves", liked.Content);
        Assert.StartsWith("Dislikes", disliked.Content);
        Assert.Equal(MemoryKind.Preference, disliked.Kind);
    }

    [Theory]
    [InlineData("Do I like sushi?")]
    [InlineData("what should I eat tonight")]
    [InlineData("Should I move to Berlin?")]
    public async Task QuestionYieldsNoMemory(string question) => Assert.Empty(await ExtractAsync(question));

    [Theory]
    [InlineData("My sister is vegetarian.")]
    [InlineData("My husband hates cilantro.")]
    [InlineData("My friends prefer tea.")]
    public async Task ThirdPartyPreferenceIsNotTheUsers(string statement) => Assert.Empty(await ExtractAsync(statement));

    [Theory]
    [InlineData("My friend said she loves sushi.")]
    [InlineData("He told me I like jazz.")]
    public async Task ReportedSpeechYieldsNoMemory(string statement) => Assert.Empty(await ExtractAsync(statement));

    [Theory]
    [InlineData("If I were rich I would live in Monaco.")]
    [InlineData("I wish I lived by the sea.")]
    [InlineData("I'd love to learn the piano someday.")]
    public async Task HypotheticalsAndWishesYieldNoMemory(string statement) => Assert.Empty(await ExtractAsync(statement));

    [Theory]
    [InlineData("Thanks!")]
    [InlineData("ok")]
    [InlineData("How are you?")]
    [InlineData("I love it, thanks!")]
    public async Task SmallTalkYieldsNoMemory(string text) => Assert.Empty(await ExtractAsync(text));

    [Fact]
    public async Task NextFridayResolvesAgainstObservedAt()
    {
        var plan = Assert.Single(await ExtractAsync("I'm flying to Rome next Friday."));

        Assert.Equal(MemoryKind.Event, plan.Kind);
        Assert.Equal("trip:rome", plan.Key);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero), plan.EventDate);
        Assert.Equal("Plans to fly to Rome on 2026-11-27", plan.Content);
    }

    [Theory]
    [InlineData("I have a dentist appointment tomorrow.", "2026-11-21")]
    [InlineData("I have a job interview on Monday.", "2026-11-23")]
    [InlineData("We're going to Japan in two weeks.", "2026-12-04")]
    [InlineData("My exam is on March 3.", "2027-03-03")]
    public async Task RelativeDatesResolveIntoContentAndEventDate(string statement, string isoDate)
    {
        var plan = Assert.Single(await ExtractAsync(statement));

        Assert.Equal(isoDate, plan.EventDate?.ToString("yyyy-MM-dd"));
        Assert.Contains(isoDate, plan.Content);
    }

    [Fact]
    public async Task VegetarianAndPescatarianShareDietKey()
    {
        var before = Assert.Single(await ExtractAsync("I'm vegetarian."));
        var after = Assert.Single(await ExtractAsync("I'm pescatarian now."));

        Assert.Equal("diet", before.Key);
        Assert.Equal(before.Key, after.Key);
        Assert.Equal("Is pescatarian", after.Content);
    }

    [Fact]
    public async Task DrinkPreferenceAndSwitchShareKey()
    {
        var before = Assert.Single(await ExtractAsync("I prefer coffee."));
        var after = Assert.Single(await ExtractAsync("I switched to tea."));

        Assert.Equal("drink_preference", before.Key);
        Assert.Equal(before.Key, after.Key);
    }

    [Fact]
    public async Task LaterStatementOnSameTopicWinsWithinConversation()
    {
        var candidates = await ExtractAsync("I prefer coffee.", "Actually I switched to tea last month.");

        var drink = Assert.Single(candidates);
        Assert.Contains("tea", drink.Content);
    }

    [Fact]
    public async Task AssistantTurnsAreIgnored()
    {
        ConversationMessage[] messages =
        [
            new(ConversationMessage.System, "The user is allergic to peanuts."),
            new(ConversationMessage.Assistant, "I love sushi and I live in Berlin."),
            new(ConversationMessage.User, "ok"),
        ];

        var result = await _extractor.ExtractAsync(messages, ObservedAt);

        Assert.Empty(result.Candidates);
    }

    [Fact]
    public async Task AllergyListGivesOneMemoryPerAllergen()
    {
        var keys = (await ExtractAsync("I'm allergic to peanuts and shellfish.")).Select(c => c.Key);

        Assert.Equal(["allergy:peanuts", "allergy:shellfish"], keys);
    }

    [Fact]
    public async Task NamedRelativeIsAFactButNotTheirPreferences()
    {
        var fact = Assert.Single(await ExtractAsync("My sister Emma lives in Leeds and loves sushi."));

        Assert.Equal("family:sister", fact.Key);
        Assert.Equal(MemoryKind.Fact, fact.Kind);
        Assert.Contains("Emma", fact.Content);
    }

    [Fact]
    public async Task FromNowOnMakesAnImperativeAStandingInstruction()
    {
        var standing = Assert.Single(await ExtractAsync("From now on, answer in German."));
        var oneOff = await ExtractAsync("Answer in German.");

        Assert.Equal("response_language", standing.Key);
        Assert.Empty(oneOff);
    }

    [Fact]
    public async Task EvidenceIsTheSourceSentence()
    {
        var candidate = Assert.Single(await ExtractAsync("Hello! I live in Oslo now. How are you?"));

        Assert.Equal("I live in Oslo now.", candidate.Evidence);
        Assert.Equal("Lives in Oslo", candidate.Content);
    }

    [Fact]
    public async Task ScoresStayBetweenZeroAndOne()
    {
        var candidates = await ExtractAsync("I'm allergic to peanuts. I love jazz. I'm flying to Rome next Friday. Call me Sam.");

        Assert.Equal(4, candidates.Count);
        Assert.All(candidates, c =>
        {
            Assert.InRange(c.Importance, 0, 1);
            Assert.InRange(c.Confidence, 0, 1);
        });
    }

    [Fact]
    public async Task ClockTimeIsNotPartOfTheEventKey()
    {
        var plan = Assert.Single(await ExtractAsync("I have a meeting tomorrow at 3pm."));

        Assert.Equal("event:meeting", plan.Key);
        Assert.Equal("2026-11-21", plan.EventDate?.ToString("yyyy-MM-dd"));
    }

    [Theory]
    [InlineData("I'm a huge Arsenal supporter.")]
    [InlineData("I'm a bit of a coffee snob.")]
    [InlineData("I'm an early riser.")]
    public async Task SelfDescriptionIsNotAnOccupation(string statement) =>
        Assert.DoesNotContain(await ExtractAsync(statement), c => c.Key == "occupation");

    [Theory]
    [InlineData("I prefer not to say.")]
    [InlineData("I'd prefer a shorter summary.")]
    [InlineData("I'd like a recipe for lasagna.")]
    public async Task RequestsAndRefusalsAreNotPreferences(string text) => Assert.Empty(await ExtractAsync(text));

    [Fact]
    public async Task ContractionsAndCurlyQuotesReadLikePlainText()
    {
        var candidates = await ExtractAsync("i dont really like podcasts", "I’m allergic to penicillin.");

        Assert.Equal(["likes:podcasts", "allergy:penicillin"], candidates.Select(c => c.Key));
    }

    [Fact]
    public async Task UnreadableFirstPersonStatementWithDateIsReportedAsFailure()
    {
        var result = await _extractor.ExtractAsync([new(ConversationMessage.User, "I feel awful today.")], ObservedAt);

        Assert.Empty(result.Candidates);
        Assert.Single(result.Failed);
    }
}
