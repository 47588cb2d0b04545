using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MemoryService.Tests.Infrastructure;

/// <summary>A quiet Kestrel app on a free port of 127.0.0.1: what the tests' stand-ins for outside servers run on.</summary>
public static class LoopbackServer
{
    public static WebApplication Create()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        return builder.Build();
    }

    /// <summary>Starts the app and returns its base address, e.g. http://127.0.0.1:54321 (no trailing slash).</summary>
    public static async Task<string> StartAsync(WebApplication app, CancellationToken ct = default)
    {
        await app.StartAsync(ct);
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
    }
}
