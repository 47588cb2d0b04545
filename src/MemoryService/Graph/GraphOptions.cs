using System.ComponentModel.DataAnnotations;

namespace MemoryService.Graph;

/// <summary>Section "Graph": entity extraction on write and spreading activation in search (its weight is
/// <c>Retrieval:Weights:Graph</c>, overridable per request like the other weights).</summary>
public sealed class GraphOptions
{
    /// <summary>Run the entity rules on every memory and knowledge write (false: no entities are recorded).</summary>
    public bool ExtractOnWrite { get; set; } = true;

    /// <summary>Entity → memory steps the activation spreads: 1 reaches the memories mentioning the query's entities,
    /// 2 also those mentioning entities met there, and so on.</summary>
    [Range(1, 4)] public int Hops { get; set; } = 2;

    /// <summary>Activation kept per further hop.</summary>
    [Range(0.0, 1)] public double Decay { get; set; } = 0.5;

    /// <summary>At most this many of the query's entities seed the activation.</summary>
    [Range(1, 64)] public int MaxSeedEntities { get; set; } = 8;

    /// <summary>At most this many memories are followed from one entity (its most recent links).</summary>
    [Range(1, 10_000)] public int MaxMemoriesPerEntity { get; set; } = 200;

    /// <summary>At most this many entities are expanded per hop.</summary>
    [Range(1, 1000)] public int MaxEntitiesPerHop { get; set; } = 32;

    /// <summary>At most this many memories reached only through the graph join the candidates.</summary>
    [Range(0, 1000)] public int MaxGraphCandidates { get; set; } = 50;

    /// <summary>Owners' graphs kept in memory (each proven current against the owner's version on every use).</summary>
    [Range(0, 1_000_000)] public int CacheEntries { get; set; } = 2000;
}
