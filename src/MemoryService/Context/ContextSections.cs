namespace MemoryService.Context;

/// <summary>The parts of a context, in the order they are rendered by the default template.</summary>
public enum ContextSection
{
    Preferences,
    Memories,
    Knowledge,
    Events,
    /// <summary>People, places and other entities the query concerns, with their current relations (asked for explicitly).</summary>
    People,
}

public enum ContextFormat
{
    Text,
    Markdown,
    Json,
}

public static class ContextSections
{
    public static readonly IReadOnlyList<ContextSection> All = Enum.GetValues<ContextSection>();

    /// <summary>The sections built when a request names none: all but <see cref="ContextSection.People"/>.</summary>
    public static readonly IReadOnlyList<ContextSection> Default = All.Where(s => s != ContextSection.People).ToList();

    public static string Name(ContextSection s) => s.ToString().ToLowerInvariant();

    public static bool TryParse(string name, out ContextSection section)
    {
        foreach (var s in All)
            if (string.Equals(Name(s), name, StringComparison.Ordinal)) { section = s; return true; }
        section = default;
        return false;
    }

    /// <summary>
    /// What an item is worth when the budget forces a choice: the section's weight plus the item's score in [0, 1].
    /// Standing preferences outrank relevant memories, which outrank knowledge and recent events; the people section,
    /// a summary of what the memories say, gives way first.
    /// </summary>
    public static double Weight(ContextSection s) => s switch
    {
        ContextSection.Preferences => 3,
        ContextSection.Memories => 2,
        ContextSection.People => 0.5,
        _ => 1,
    };

    public static string Heading(ContextSection s) => s switch
    {
        ContextSection.Preferences => "User preferences and standing instructions",
        ContextSection.Memories => "What you know about the user",
        ContextSection.Knowledge => "Relevant app knowledge",
        ContextSection.People => "People and places",
        _ => "Recent events",
    };
}
