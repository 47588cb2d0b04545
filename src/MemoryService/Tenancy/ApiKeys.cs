using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using MemoryService.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace MemoryService.Tenancy;

/// <summary>The caller behind a verified tenant key.</summary>
public sealed partial record Caller(Guid TenantId, Guid KeyId);

/// <summary>Issues and verifies API keys. Keys are 32 random bytes; the database holds only their SHA-256.</summary>
public sealed class ApiKeys(IServiceScopeFactory scopes, IOptions<AuthOptions> options, TimeProvider clock) : IDisposable
{
    private const string KeyPrefix = "msk_";
    // Size-bounded: every presented key takes one entry, so a flood of random keys evicts old verdicts instead of growing memory.
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = options.Value.KeyCacheEntries });
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _lastUseWritten = new();

    public static (string Key, string Prefix, byte[] Hash) NewKey()
    {
        var key = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        return (key, key[..12], Hash(key));
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public async Task<CreatedApiKeyResponse> CreateAsync(MemoryDb db, Guid tenantId, string? name, CancellationToken ct)
    {
        var (key, prefix, hash) = NewKey();
        var entity = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenantId,
            Name = name,
            Prefix = prefix,
            KeyHash = hash,
            CreatedAt = clock.GetUtcNow(),
        };
        db.Add(entity);
        await db.SaveChangesAsync(ct);
        return new CreatedApiKeyResponse(entity.Id, tenantId, name, prefix, key, entity.CreatedAt);
    }

    /// <summary>Forget cached verdicts so a revocation takes effect at once on this replica.</summary>
    public void Invalidate() => _cache.Clear();

    /// <summary>Verdicts held now (bounded by Auth:KeyCacheEntries).</summary>
    public long CachedVerdicts => _cache.Count;

    public void Dispose() => _cache.Dispose();

    /// <summary>The tenant behind <paramref name="presented"/>, or null when unknown or revoked.</summary>
    public async ValueTask<Caller?> VerifyAsync(string presented, CancellationToken ct)
    {
        var hash = Hash(presented);
        var cacheKey = Convert.ToBase64String(hash);
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(cacheKey, out Verdict? hit)) return hit!.Caller;

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MemoryDb>();
        var row = await db.Set<ApiKey>().AsNoTracking()
            .Where(k => k.KeyHash == hash)
            .Select(k => new { k.Id, k.TenantId, k.KeyHash, k.RevokedAt })
            .FirstOrDefaultAsync(ct);
        // The index lookup is by hash; compare in constant time anyway so no byte-wise timing leaks.
        Caller? caller = row is not null && row.RevokedAt is null && CryptographicOperations.FixedTimeEquals(row.KeyHash, hash)
            ? new Caller(row.TenantId, row.Id)
            : null;
        // Unknown keys are remembered briefly (a retry loop of one bad key stays cheap) and at low priority.
        var ttl = TimeSpan.FromSeconds(caller is null ? Math.Min(1, options.Value.KeyCacheSeconds) : options.Value.KeyCacheSeconds);
        if (ttl > TimeSpan.Zero)
            _cache.Set(cacheKey, new Verdict(caller), new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = ttl,
                Priority = caller is null ? CacheItemPriority.Low : CacheItemPriority.Normal,
            });
        if (caller is not null) await RecordUseAsync(db, caller.KeyId, now, ct);
        return caller;
    }

    public bool IsAdmin(string presented)
    {
        var admin = options.Value.AdminKey;
        if (string.IsNullOrEmpty(admin)) return false;
        return CryptographicOperations.FixedTimeEquals(Hash(presented), Hash(admin));
    }

    /// <summary>last_used_at is written at most once a minute per key, so verification stays a read.</summary>
    private async Task RecordUseAsync(MemoryDb db, Guid keyId, DateTimeOffset now, CancellationToken ct)
    {
        if (_lastUseWritten.TryGetValue(keyId, out var last) && now - last < TimeSpan.FromMinutes(1)) return;
        _lastUseWritten[keyId] = now;
        await db.Set<ApiKey>().Where(k => k.Id == keyId).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), ct);
    }

    private sealed record Verdict(Caller? Caller);

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
