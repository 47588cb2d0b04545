using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
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
            // Per-user queries are small; JIT-compiling them (triggered by stale row estimates) costs tens of ms.
            // Prepared statements keep one generic plan: re-planning the ranking query costs ~3 ms a search.
            if (string.IsNullOrEmpty(dsb.ConnectionStringBuilder.Options))
                dsb.ConnectionStringBuilder.Options = "-c jit=off -c plan_cache_mode=force_generic_plan";
            // The ranking query takes ~3 ms to plan: prepare hot statements once per connection.
            if (dsb.ConnectionStringBuilder.MaxAutoPrepare == 0) dsb.ConnectionStringBuilder.MaxAutoPrepare = 64;
            dsb.EnableDynamicJson();
            // pgvector's types: halfvec as HalfVector, vector as Vector (and arrays of them), in binary.
            dsb.UseVector();
            // A new physical connection is the signal that an outage is over (see DatabaseOutage).
            var outage = sp.GetService<MemoryService.Hosting.DatabaseOutage>();
            if (outage is not null)
                dsb.UsePhysicalConnectionInitializer(_ => outage.Succeeded(), _ => { outage.Succeeded(); return Task.CompletedTask; });
            return dsb.Build();
        });
        // Pooled: a request reuses a reset context instead of building one and its internal service scope
        // (under load that resolution showed up as lock contention in a profile of the search endpoint).
        builder.Services.AddDbContextPool<MemoryDb>((sp, o) => o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), n => n.UseVector()));
        builder.Services.AddSingleton<Migrator>();
        // Registered before every other hosted service so the database is up before they start.
        builder.Services.AddHostedService<DatabaseStartup>();
        builder.Services.AddHostedService<EmbeddedPostgresSupervisor>();
        return builder;
    }
}

/// <summary>
/// The connection string in force: the configured one, or the embedded cluster's, started on first use
/// (whichever service needs the database first) and stopped by <see cref="DatabaseStartup"/> last.
/// </summary>
public sealed class DatabaseEndpoint
{
    private readonly Lazy<EmbeddedPostgres>? _embedded;

    public DatabaseEndpoint(IConfiguration configuration, IOptions<StorageOptions> storage, ILogger<DatabaseEndpoint> logger)
    {
        Configured = configuration.GetConnectionString("Memory") is { Length: > 0 } cs ? cs : null;
        if (Configured is not null) return;
        _embedded = new Lazy<EmbeddedPostgres>(() =>
        {
            var options = storage.Value;
            var dataDir = options.ResolveDataDirectory();
            Directory.CreateDirectory(dataDir);
            var pg = EmbeddedPostgres.Start(Path.Combine(dataDir, "pgdata"), options.PostgresBinDirectory,
                DatabaseExtensions.DatabaseName, TimeSpan.FromSeconds(options.StartTimeoutSeconds), logger);
            logger.LogInformation("Embedded PostgreSQL running; data directory {DataDirectory}", dataDir);
            return pg;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string? Configured { get; }
    public bool IsEmbedded => Configured is null;

    // Embedded: a socket on this machine connects in milliseconds, so a short timeout turns an outage into a
    // quick 503 rather than requests queueing behind a server that is being restarted.
    public string ConnectionString => Configured ?? new NpgsqlConnectionStringBuilder(
        _embedded!.Value.ConnectionString(DatabaseExtensions.DatabaseName)) { Timeout = 5 }.ConnectionString;

    /// <summary>The embedded cluster once started (null for a configured server or before the first use).</summary>
    public EmbeddedPostgres? Embedded => _embedded is { IsValueCreated: true } ? _embedded.Value : null;

    /// <summary>Set by <see cref="EmbeddedPostgresSupervisor"/> while the embedded server is down or restarting.</summary>
    public bool EmbeddedDown { get; set; }

    public void StopEmbedded()
    {
        if (_embedded is { IsValueCreated: true }) _embedded.Value.Stop();
    }
}

/// <summary>Applies migrations before the server accepts requests, and stops the embedded cluster last on shutdown.</summary>
public sealed class DatabaseStartup(DatabaseEndpoint endpoint, IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _ = await Task.Run(() => endpoint.ConnectionString, cancellationToken);
        await services.GetRequiredService<Migrator>().MigrateAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        endpoint.StopEmbedded();
        return Task.CompletedTask;
    }
}
