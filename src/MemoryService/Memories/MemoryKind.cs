namespace MemoryService.Memories;

/// <summary>What a memory is about. Serialised as lowercase strings.</summary>
public enum MemoryKind
{
    Preference,
    Fact,
    Event,
    Knowledge,
}

/// <summary>Where a memory came from.</summary>
public enum MemorySource
{
    User,
    Inferred,
    Import,
}
