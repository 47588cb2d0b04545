using MemoryService.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace MemoryService.Hosting;

public static class HealthApi
{
    public sealed record HealthResponse(string Status, string? Detail = null);

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Health");
        group.MapGet("/live", () => TypedResults.Ok(new HealthResponse("live")))
            .WithName("GetLiveness").WithSummary("The process is up.");
        group.MapGet("/ready", Ready)
            .WithName("GetReadiness").WithSummary("The database is reachable and migrations are applied.");
        return app;
    }

    private static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> Ready(
        IServiceProvider services, CancellationToken ct)
    {
        if (services.GetRequiredService<DatabaseEndpoint>().EmbeddedDown) return Unready("embedded database restarting");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            if (await services.GetRequiredService<Migrator>().IsUpToDateAsync(timeout.Token))
                return TypedResults.Ok(new HealthResponse("ready"));
            return Unready("migrations are not applied");
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or OperationCanceledException)
        {
            return Unready("database unreachable");
        }
    }

    private static JsonHttpResult<HealthResponse> Unready(string detail) =>
        TypedResults.Json(new HealthResponse("unready", detail), statusCode: StatusCodes.Status503ServiceUnavailable);
}
