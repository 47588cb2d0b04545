using Microsoft.Extensions.AI;

namespace MemoryService.Embeddings;

/// <summary>
/// Whether a text is a search query or a stored memory. Asymmetric models embed the two differently (Arctic-xs
/// prefixes queries); the choice travels to a generator in <see cref="EmbeddingGenerationOptions.AdditionalProperties"/>
/// under <see cref="Key"/>, so every provider keeps the plain <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> shape.
/// </summary>
public static class EmbeddingInput
{
    public const string Key = "input_type";
    public const string Query = "query";
    public const string Document = "document";

    public static readonly EmbeddingGenerationOptions ForQuery = Create(Query);
    public static readonly EmbeddingGenerationOptions ForDocument = Create(Document);

    /// <summary>True when the caller said the texts are queries; anything else (or nothing) is a document.</summary>
    public static bool IsQuery(EmbeddingGenerationOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(Key, out var value) == true && value is Query;

    private static EmbeddingGenerationOptions Create(string kind) =>
        new() { AdditionalProperties = new AdditionalPropertiesDictionary { [Key] = kind } };
}
