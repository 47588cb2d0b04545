using System.ComponentModel.DataAnnotations;

namespace MemoryService.Tenancy;

/// <summary>Section "Auth".</summary>
public sealed class AuthOptions : IValidatableObject
{
    public const int MinAdminKeyLength = 32;

    /// <summary>Authorises /v1/admin; the admin API is closed when empty. At least 32 characters.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a verified key is trusted without asking the database (revocation delay across replicas).</summary>
    [Range(0, 300)]
    public int KeyCacheSeconds { get; set; } = 5;

    /// <summary>Most key verdicts kept in memory; beyond it the oldest are evicted (random keys cannot grow the cache).</summary>
    [Range(1, 10_000_000)]
    public int KeyCacheEntries { get; set; } = 10_000;

    /// <summary>Failed authentications a client address may make at once before it gets 429.</summary>
    [Range(1, 1_000_000)]
    public int FailedAttemptsBurst { get; set; } = 20;

    /// <summary>Failed authentications per minute a client address earns back.</summary>
    [Range(1, 1_000_000)]
    public int FailedAttemptsPerMinute { get; set; } = 30;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // A short admin key is guessable; refuse to start rather than serve with it.
        if (!string.IsNullOrEmpty(AdminKey) && AdminKey.Length < MinAdminKeyLength)
            yield return new ValidationResult(
                $"Auth:AdminKey must be at least {MinAdminKeyLength} characters (it is {AdminKey.Length}); generate one with `openssl rand -base64 32`, or leave it empty to close the admin API.",
                [nameof(AdminKey)]);
    }
}

/// <summary>Section "RateLimit": a token bucket per verified API key, and one for the admin key.</summary>
public sealed class RateLimitOptions
{
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 500;

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 1000;

    [Range(1, 1_000_000)]
    public int AdminPermitsPerSecond { get; set; } = 10;

    [Range(1, 1_000_000)]
    public int AdminBurst { get; set; } = 50;
}
