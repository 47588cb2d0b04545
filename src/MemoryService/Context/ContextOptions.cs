using System.ComponentModel.DataAnnotations;

namespace MemoryService.Context;

/// <summary>Context building settings (section "Context").</summary>
public sealed class ContextOptions
{
    /// <summary>
    /// Days a dated event (a plan such as "flying to Rome next Friday") stays in "Recent events" after its own date.
    /// Past that it is history: still searchable, but no longer pushed into every prompt.
    /// </summary>
    [Range(0, 3650)]
    public int PastEventWindowDays { get; set; } = 7;
}
