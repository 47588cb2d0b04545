using MemoryService.Retrieval;

namespace MemoryService.Memories;

public static class MemoriesExtensions
{
    public static IHostApplicationBuilder AddMemories(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MemoriesOptions>().BindConfiguration("Memories").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<MemoryStore>();
        builder.Services.AddSingleton<Embedder>();
        var maxBody = builder.Configuration.GetValue<long?>("Memories:MaxRequestBodyBytes") ?? new MemoriesOptions().MaxRequestBodyBytes;
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = maxBody);
        return builder;
    }
}
