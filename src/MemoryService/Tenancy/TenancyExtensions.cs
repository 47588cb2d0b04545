using System.Reflection;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace MemoryService.Tenancy;

public static class TenancyExtensions
{
    private static readonly object CallerItem = new();

    public static IHostApplicationBuilder AddTenancy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration("RateLimit").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddHostedService<DefaultTenantBootstrap>();
        builder.Services.AddRateLimiter(o =>
        {
            // One token bucket per presented key (unknown keys included, which slows key guessing).
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var key = PresentedKey(http.Request);
                // Tenant keys are limited; the operator's admin calls and unauthenticated paths are not.
                if (key is null || !http.Request.Path.StartsWithSegments("/v1") || http.Request.Path.StartsWithSegments("/v1/admin"))
                    return RateLimitPartition.GetNoLimiter("unlimited");
                var limits = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                return RateLimitPartition.GetTokenBucketLimiter(Convert.ToBase64String(ApiKeys.Hash(key)), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = limits.Burst,
                    TokensPerPeriod = limits.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (ctx, ct) =>
            {
                var retryAfter = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                ctx.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
                await WriteProblem(ctx.HttpContext, StatusCodes.Status429TooManyRequests, "Too many requests",
                    "This API key is over its request rate; retry after the number of seconds in Retry-After.");
            };
        });
        return builder;
    }

    /// <summary>
    /// Every /v1 call needs a key: /v1/admin the admin key, everything else a tenant key. The verified
    /// tenant is what every query is keyed by, so one tenant never reaches another's rows.
    /// </summary>
    public static IApplicationBuilder UseTenantAuthentication(this IApplicationBuilder app)
    {
        app.UseRateLimiter();
        return app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments("/v1"))
            {
                await next(http);
                return;
            }
            var presented = PresentedKey(http.Request);
            if (presented is null)
            {
                await Unauthorized(http, "Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.");
                return;
            }
            var keys = http.RequestServices.GetRequiredService<ApiKeys>();
            if (http.Request.Path.StartsWithSegments("/v1/admin"))
            {
                if (!keys.IsAdmin(presented))
                {
                    await Unauthorized(http, "The admin API needs the admin key (Auth:AdminKey).");
                    return;
                }
            }
            else
            {
                var caller = await keys.VerifyAsync(presented, http.RequestAborted);
                if (caller is null)
                {
                    await Unauthorized(http, "The API key is unknown or revoked.");
                    return;
                }
                http.Items[CallerItem] = caller;
            }
            await next(http);
        });
    }

    /// <summary>The verified caller; only reachable behind <see cref="UseTenantAuthentication"/>.</summary>
    public static Caller GetCaller(this HttpContext http) =>
        http.Items[CallerItem] as Caller ?? throw new InvalidOperationException("No authenticated caller.");

    public static string? PresentedKey(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && auth.Length > 7) return auth[7..].Trim();
        var header = request.Headers["X-API-Key"].ToString();
        return header.Length > 0 ? header.Trim() : null;
    }

    private static Task Unauthorized(HttpContext http, string detail)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteProblem(http, StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    private static async Task WriteProblem(HttpContext http, int status, string title, string detail)
    {
        http.Response.StatusCode = status;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Binds a handler parameter to the verified caller.</summary>
public sealed partial record Caller
{
    public static ValueTask<Caller?> BindAsync(HttpContext http, ParameterInfo _) => ValueTask.FromResult<Caller?>(http.GetCaller());
}
