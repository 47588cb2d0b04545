using System.ComponentModel.DataAnnotations;

namespace MemoryService.Learning;

/// <summary>Section "Learning": limits of the extract endpoint and thresholds of reconciliation.</summary>
public sealed class LearningOptions
{
    [Range(1, 1000)] public int MaxMessages { get; set; } = 100;

    [Range(1, 100_000)] public int MaxMessageChars { get; set; } = 8000;

    /// <summary>Cosine similarity at or above which a statement repeats a memory with another (or no) key.
    /// Default per embedding model (<see cref="Embeddings.EmbeddingProfile"/>): 0.92 hashing, 0.75 minilm, 0.91 arctic-xs.</summary>
    [Range(0.0, 1.0)] public double RepeatSimilarity { get; set; } = 0.92;

    /// <summary>Search hits below this similarity are not considered related (nor shown to the model).
    /// Default per embedding model: 0.5 hashing, 0.32 minilm, 0.81 arctic-xs.</summary>
    [Range(0.0, 1.0)] public double RelatedSimilarity { get; set; } = 0.5;

    /// <summary>How many similar memories are compared with (and shown to the model for) each candidate.</summary>
    [Range(1, 50)] public int RelatedLimit { get; set; } = 5;

    /// <summary>In how many conversations the same request about answers ("shorter, please", "in Spanish") must be seen
    /// before it becomes a standing preference (a <c>promote</c> decision). 0 turns learning from behaviour off.</summary>
    [Range(0, 100)] public int BehaviourRepeats { get; set; } = 3;
}
