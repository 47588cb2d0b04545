using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace MemoryService.Data;

public static class DatabaseExtensions
{
    public const string DatabaseName = "memory";

    /// <summary>
    /// PostgreSQL: the server named by ConnectionStrings:Memory, or, when none is configured, a private
    /// cluster in Storage:DataDirectory that this process starts and stops. Migrations run before the
    /// server accepts requests.
    /// </summary>
    public static IHostApplicationBuilder AddDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().BindConfiguration("Storage").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DatabaseEndpoint>();
        builder.Services.AddSingleton(sp =>
        {
            var endpoint = sp.GetRequiredService<DatabaseEndpoint>();
            var dsb = new NpgsqlDataSourceBuilder(endpoint.ConnectionString);
            dsb.EnableDynamicJson();
            return dsb.Build();
        });
        builder.Services.AddDbContext<MemoryDb>((sp, o) => o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        builder.Services.AddSingleton<Migrator>();
        // Registered before every other hosted service so the database is up before they start.
        builder.Services.AddHostedService<DatabaseStartup>();
        return builder;
    }
}

/// <summary>The connection string in force: configured, or the embedded cluster's once it has started.</summary>
public sealed class DatabaseEndpoint(IConfiguration configuration)
{
    private string? _embedded;

    public string? Configured { get; } = configuration.GetConnectionString("Memory") is { Length: > 0 } cs ? cs : null;
    public bool IsEmbedded => Configured is null;
    public EmbeddedPostgres? Embedded { get; private set; }

    public string ConnectionString => Configured ?? _embedded
        ?? throw new InvalidOperationException("The embedded database has not been started yet.");

    public void UseEmbedded(EmbeddedPostgres pg)
    {
        Embedded = pg;
        _embedded = pg.ConnectionString(DatabaseExtensions.DatabaseName);
    }
}

/// <summary>Starts the embedded cluster when needed, applies migrations, and stops the cluster last on shutdown.</summary>
public sealed class DatabaseStartup(
    DatabaseEndpoint endpoint,
    Microsoft.Extensions.Options.IOptions<StorageOptions> storage,
    IServiceProvider services,
    ILogger<DatabaseStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (endpoint.IsEmbedded)
        {
            var options = storage.Value;
            var dataDir = options.ResolveDataDirectory();
            Directory.CreateDirectory(dataDir);
            var pg = await Task.Run(() => EmbeddedPostgres.Start(Path.Combine(dataDir, "pgdata"), options.PostgresBinDirectory,
                DatabaseExtensions.DatabaseName, TimeSpan.FromSeconds(options.StartTimeoutSeconds), logger), cancellationToken);
            endpoint.UseEmbedded(pg);
            logger.LogInformation("Embedded PostgreSQL running in {DataDirectory} (socket {Socket})", pg.ClusterDirectory, pg.SocketDirectory);
        }
        await services.GetRequiredService<Migrator>().MigrateAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        endpoint.Embedded?.Stop();
        return Task.CompletedTask;
    }
}
