using System.Text;

namespace MemoryService.Context;

/// <summary>
/// A system-prompt wrapper: free text with <c>{{preferences}}</c>, <c>{{memories}}</c>, <c>{{knowledge}}</c> and
/// <c>{{events}}</c>, <c>{{people}}</c> where the rendered sections go (an empty section renders as nothing). Single braces are
/// plain text, so JSON examples in a template are fine; <c>{{</c> and <c>}}</c> must pair around a known name.
/// </summary>
public sealed class ContextTemplate
{
    public const int MaxLength = 8000;

    public const string Default = """
        You are a helpful assistant with a long-term memory of this user. Use what you know below when it is relevant,
        follow the user's standing instructions, and prefer newer information over older. Do not recite these notes unless asked.

        {{preferences}}{{memories}}{{people}}{{knowledge}}{{events}}
        """;

    public static readonly ContextTemplate DefaultTemplate = Parse(Default, out _)!;

    private readonly List<(string? Text, ContextSection? Section)> _parts;

    private ContextTemplate(string source, List<(string?, ContextSection?)> parts)
    {
        Source = source;
        _parts = parts;
    }

    public string Source { get; }

    /// <summary>Whether the template has a placeholder for the section.</summary>
    public bool Places(ContextSection section) => _parts.Any(p => p.Section == section);

    /// <summary>The parsed template, or null with the reason it is invalid.</summary>
    public static ContextTemplate? Parse(string? source, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(source)) { error = "Required, and not blank."; return null; }
        if (source.Length > MaxLength) { error = $"At most {MaxLength} characters."; return null; }
        if (source.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t'))) { error = "Control characters other than tab and newline are not allowed."; return null; }

        var parts = new List<(string?, ContextSection?)>();
        var text = new StringBuilder();
        for (var i = 0; i < source.Length; i++)
        {
            if (source.AsSpan(i).StartsWith("{{"))
            {
                var close = source.IndexOf("}}", i + 2, StringComparison.Ordinal);
                var nextOpen = source.IndexOf("{{", i + 2, StringComparison.Ordinal);
                if (close < 0 || (nextOpen >= 0 && nextOpen < close))
                {
                    error = $"Unbalanced braces: '{{{{' at position {i} has no matching '}}}}'.";
                    return null;
                }
                var name = source[(i + 2)..close].Trim();
                if (!ContextSections.TryParse(name, out var section))
                {
                    error = $"Unknown placeholder '{{{{{name}}}}}'; use {string.Join(", ", ContextSections.All.Select(s => "{{" + ContextSections.Name(s) + "}}"))}.";
                    return null;
                }
                if (text.Length > 0) { parts.Add((text.ToString(), null)); text.Clear(); }
                parts.Add((null, section));
                i = close + 1;
            }
            else if (source.AsSpan(i).StartsWith("}}"))
            {
                error = $"Unbalanced braces: '}}}}' at position {i} has no matching '{{{{'.";
                return null;
            }
            else text.Append(source[i]);
        }
        if (text.Length > 0) parts.Add((text.ToString(), null));
        return new ContextTemplate(source, parts);
    }

    /// <summary>The template with each placeholder replaced by its rendered section ("" when absent), trimmed.</summary>
    public string Render(IReadOnlyDictionary<ContextSection, string> sections)
    {
        var sb = new StringBuilder(Source.Length + 256);
        foreach (var (text, section) in _parts)
        {
            if (text is not null) sb.Append(text);
            else if (sections.TryGetValue(section!.Value, out var rendered)) sb.Append(rendered);
        }
        return sb.ToString().Trim();
    }
}
