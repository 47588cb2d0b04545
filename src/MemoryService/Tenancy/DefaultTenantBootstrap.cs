using MemoryService.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace MemoryService.Tenancy;

/// <summary>
/// On the embedded default only: the first start creates a "default" tenant and writes its key to
/// default-api-key.txt (mode 600) in the data directory, so the README's curl examples work at once.
/// </summary>
public sealed class DefaultTenantBootstrap(
    DatabaseEndpoint endpoint,
    IOptions<StorageOptions> storage,
    IServiceScopeFactory scopes,
    ApiKeys keys,
    TimeProvider clock,
    ILogger<DefaultTenantBootstrap> logger) : IHostedService
{
    public const string TenantName = "default";
    public const string KeyFileName = "default-api-key.txt";

    public async Task StartAsync(CancellationToken ct)
    {
        if (!endpoint.IsEmbedded) return;
        var keyFile = Path.Combine(storage.Value.ResolveDataDirectory(), KeyFileName);
        if (!File.Exists(keyFile))
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MemoryDb>();
            var tenant = await db.Set<Tenant>().FirstOrDefaultAsync(t => t.Name == TenantName, ct);
            if (tenant is null)
            {
                tenant = new Tenant { Id = Guid.CreateVersion7(), Name = TenantName, CreatedAt = clock.GetUtcNow() };
                db.Add(tenant);
                await db.SaveChangesAsync(ct);
            }
            var created = await keys.CreateAsync(db, tenant.Id, "default", ct);
            var tmp = keyFile + ".tmp";
            // Created with mode 600: the key is never readable by others, not even between write and chmod.
            File.Delete(tmp);
            EmbeddedPostgres.WriteOwnerOnly(tmp, created.Key + "\n");
            File.Move(tmp, keyFile, overwrite: true);
        }
        logger.LogInformation("API key of the default tenant: {KeyFile}", keyFile);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
}
