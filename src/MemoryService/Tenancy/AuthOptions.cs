using System.ComponentModel.DataAnnotations;

namespace MemoryService.Tenancy;

/// <summary>Section "Auth".</summary>
public sealed class AuthOptions
{
    /// <summary>Authorises /v1/admin; the admin API is closed when empty.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a verified key is trusted without asking the database (revocation delay across replicas).</summary>
    [Range(0, 300)]
    public int KeyCacheSeconds { get; set; } = 5;
}

/// <summary>Section "RateLimit": a token bucket per API key.</summary>
public sealed class RateLimitOptions
{
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 500;

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 1000;
}
