using MemoryService.Retrieval;

namespace MemoryService.Memories;

public static class MemoriesExtensions
{
    public static IHostApplicationBuilder AddMemories(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MemoriesOptions>().BindConfiguration("Memories").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<MemoryStore>();
        builder.Services.AddSingleton<OwnerWriteGate>();
        builder.Services.AddSingleton<Embedder>();
        return builder;
    }
}
