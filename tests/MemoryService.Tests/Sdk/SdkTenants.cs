using MemoryService.Client;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Sdk;

internal static class SdkTenants
{
    /// <summary>A new tenant made through the SDK's admin operations, and an SDK client with its key.</summary>
    public static async Task<MemoryServiceClient> NewSdkTenantAsync(this ApiFactory factory)
    {
        var admin = new MemoryServiceClient(factory.CreateClient(), ApiFactory.AdminKey);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest { Name = "sdk-" + Guid.NewGuid().ToString("N")[..8] });
        var key = await admin.CreateApiKeyAsync(tenant.Id, new CreateKeyRequest { Name = "sdk" });
        return new MemoryServiceClient(factory.CreateClient(), key.Key);
    }

    public static string NewUser() => "sdk-" + Guid.NewGuid().ToString("N")[..10];
}
