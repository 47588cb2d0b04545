namespace MemoryService.Graph;

public enum EntityType { Person, Place, Organisation, Pet, Thing, Event }

/// <summary>How a memory refers to an entity.</summary>
public enum MentionRole { Subject, Object, Mention }

/// <summary>
/// One entity a text refers to. <see cref="Key"/> names it within one extraction (relations refer to it);
/// <see cref="IsSelf"/> is the owner speaking in the first person. <see cref="Name"/> is null when the text only
/// says it by an alias ("my sister"); <see cref="Weak"/> marks a capitalised word that may be a name or may just
/// start a sentence, linked only to an entity the owner already has.
/// </summary>
public sealed record EntityMention(string Key, string? Name, EntityType Type, IReadOnlyList<string> Aliases, MentionRole Role,
    bool IsSelf = false, bool Weak = false);

/// <summary>A relation between two mentions of one text: subject, predicate (snake_case), object.</summary>
public sealed record RelationMention(string SubjectKey, string Predicate, string ObjectKey);

public sealed record EntityExtraction(IReadOnlyList<EntityMention> Entities, IReadOnlyList<RelationMention> Relations)
{
    public static readonly EntityExtraction None = new([], []);
}

/// <summary>
/// Finds the entities and relations one memory states. Called for every memory written, inside the write, so it
/// must be fast and bounded; the built-in <see cref="RuleBasedEntityExtractor"/> is. A model-based extractor would
/// implement the same interface (validating the model's structured output before returning it).
/// </summary>
public interface IEntityExtractor
{
    /// <summary>The entities and relations in <paramref name="text"/>; <paramref name="firstPersonIsOwner"/> false for
    /// knowledge, where "I" and "we" are no one in particular.</summary>
    ValueTask<EntityExtraction> ExtractAsync(string text, bool firstPersonIsOwner, CancellationToken ct);
}

/// <summary>Predicates a subject has one current object for: a new object ends the old relation.</summary>
public static class Predicates
{
    public const string LivesIn = "lives_in";
    public const string WorksAt = "works_at";
    public static readonly IReadOnlySet<string> Functional = new HashSet<string>(StringComparer.Ordinal) { LivesIn, WorksAt };
}
