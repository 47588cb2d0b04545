namespace MemoryService.Context;

/// <summary>
/// Counts the tokens a model would see for a piece of text, so context can be assembled under a token budget.
/// </summary>
public interface ITokenCounter
{
    /// <summary>Returns the number of tokens in <paramref name="text"/>; 0 for an empty string.</summary>
    /// <param name="text">The text to measure. Must not be null.</param>
    /// <returns>The token count, exact or estimated depending on the implementation.</returns>
    int CountTokens(string text);
}
