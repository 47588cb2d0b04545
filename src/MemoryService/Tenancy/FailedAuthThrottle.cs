using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace MemoryService.Tenancy;

/// <summary>
/// A token bucket of failed authentications per client address: each wrong key costs a token, tokens come back
/// at Auth:FailedAttemptsPerMinute, and an empty bucket means 429 before the next key is looked up. Key guessing
/// from one address is slowed to that rate and the database sees at most that many lookups. The number of
/// tracked addresses is bounded (least recently failed evicted first).
/// </summary>
public sealed class FailedAuthThrottle(IOptions<AuthOptions> options, TimeProvider clock) : IDisposable
{
    private const int MaxTrackedAddresses = 100_000;
    private readonly MemoryCache _buckets = new(new MemoryCacheOptions { SizeLimit = MaxTrackedAddresses });

    /// <summary>True when <paramref name="address"/> has no failed attempts left; then how many seconds until it has one.</summary>
    public bool IsBlocked(string address, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        if (!_buckets.TryGetValue(address, out Bucket? bucket)) return false;
        lock (bucket!)
        {
            Refill(bucket);
            if (bucket.Tokens >= 1) return false;
            retryAfterSeconds = Math.Max(1, (int)Math.Ceiling((1 - bucket.Tokens) * 60.0 / options.Value.FailedAttemptsPerMinute));
            return true;
        }
    }

    public void Failed(string address)
    {
        var limits = options.Value;
        var bucket = _buckets.GetOrCreate(address, entry =>
        {
            entry.Size = 1;
            // Forgotten once it would be full again anyway.
            entry.SlidingExpiration = TimeSpan.FromSeconds(Math.Ceiling(limits.FailedAttemptsBurst * 60.0 / limits.FailedAttemptsPerMinute) + 1);
            return new Bucket { Tokens = limits.FailedAttemptsBurst, At = clock.GetUtcNow() };
        })!;
        lock (bucket)
        {
            Refill(bucket);
            bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
        }
    }

    public void Dispose() => _buckets.Dispose();

    private void Refill(Bucket bucket)
    {
        var now = clock.GetUtcNow();
        var limits = options.Value;
        bucket.Tokens = Math.Min(limits.FailedAttemptsBurst, bucket.Tokens + (now - bucket.At).TotalMinutes * limits.FailedAttemptsPerMinute);
        bucket.At = now;
    }

    private sealed class Bucket
    {
        public double Tokens { get; set; }
        public DateTimeOffset At { get; set; }
    }
}
