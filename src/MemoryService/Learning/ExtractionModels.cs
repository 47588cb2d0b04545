using MemoryService.Memories;

namespace MemoryService.Learning;

/// <summary>One turn of a conversation. <see cref="Role"/> is "user", "assistant" or "system".</summary>
public sealed record ConversationMessage(string Role, string Content)
{
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string System = "system";
}

/// <summary>A memory the extractor proposes, not yet reconciled with what is stored.</summary>
/// <param name="Kind">Preference, Fact or Event.</param>
/// <param name="Content">A short third-person statement, e.g. "Is allergic to peanuts".</param>
/// <param name="Key">
/// The stable topic of the statement, so that a later statement on the same topic replaces this one.
/// Scheme (lowercase, spaces and punctuation in slugs become "_", articles and possessives dropped):
/// <list type="bullet">
/// <item><c>name</c>, <c>preferred_name</c>, <c>avoid_name:&lt;name&gt;</c>, <c>age</c>, <c>birthday</c>, <c>birth_year</c>,
/// <c>location</c>, <c>hometown</c>, <c>occupation</c>, <c>employer</c>, <c>marital_status</c>, <c>languages</c>, <c>diet</c>.</item>
/// <item><c>allergy:&lt;thing&gt;</c>, <c>intolerance:&lt;thing&gt;</c>, <c>condition:&lt;thing&gt;</c>, <c>avoids:&lt;food&gt;</c>.</item>
/// <item><c>likes:&lt;thing&gt;</c> for liking and disliking alike ("I love X" and "I don't like X" share it).</item>
/// <item><c>&lt;topic&gt;_preference</c> when a preference names a known topic (drink, milk, operating_system, phone,
/// editor, seat, units; plus <c>alcohol</c>), else <c>prefers:&lt;thing&gt;</c>; "I switched to X" uses the same topic,
/// else <c>uses:&lt;thing&gt;</c>. "My favourite X is Y" gives <c>favourite_&lt;x&gt;</c>.</item>
/// <item>Standing instructions: <c>response_language</c>, <c>response_length</c>, <c>emoji_usage</c>, <c>formatting</c>,
/// else <c>instruction:&lt;first words&gt;</c>.</item>
/// <item><c>family:&lt;relation&gt;</c> (mom and mum become mother), <c>children</c>, <c>pet:&lt;species&gt;</c> (one key per species).</item>
/// <item><c>trip:&lt;place&gt;</c> for travel plans, <c>event:&lt;what&gt;</c> for other plans and past events.</item>
/// </list>
/// </param>
/// <param name="Importance">0..1, how much the memory matters when building context (allergies rank high).</param>
/// <param name="Confidence">0..1, how sure the rule that produced it is.</param>
/// <param name="EventDate">The resolved date of a plan or past event; null for preferences and facts.</param>
/// <param name="Evidence">The sentence the candidate came from.</param>
public sealed record MemoryCandidate(
    MemoryKind Kind,
    string Content,
    string Key,
    double Importance,
    double Confidence,
    DateTimeOffset? EventDate,
    string Evidence);

/// <summary>A statement that looked like something to remember but could not be turned into a candidate.</summary>
public sealed record ExtractionFailure(string Text, string Reason);

/// <summary>What one extraction produced.</summary>
public sealed record ExtractionResult(IReadOnlyList<MemoryCandidate> Candidates, IReadOnlyList<ExtractionFailure> Failed)
{
    public static readonly ExtractionResult Empty = new([], []);
}
