using System.Reflection;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace MemoryService.Tenancy;

public static class TenancyExtensions
{
    private static readonly object CallerItem = new();
    private static readonly object AdminItem = new();

    public static IHostApplicationBuilder AddTenancy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration("RateLimit").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<FailedAuthThrottle>();
        builder.Services.AddHostedService<DefaultTenantBootstrap>();
        builder.Services.AddRateLimiter(o =>
        {
            // One token bucket per verified key and one for the admin key. The limiter runs after authentication,
            // so a random key never gets a bucket of its own (failed attempts have their own per-address throttle).
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var limits = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                if (http.Items[AdminItem] is not null)
                    return RateLimitPartition.GetTokenBucketLimiter("admin", _ => Bucket(limits.AdminBurst, limits.AdminPermitsPerSecond));
                if (http.Items[CallerItem] is Caller caller)
                    return RateLimitPartition.GetTokenBucketLimiter(caller.KeyId.ToString(), _ => Bucket(limits.Burst, limits.PermitsPerSecond));
                return RateLimitPartition.GetNoLimiter("unauthenticated");
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

    private static TokenBucketRateLimiterOptions Bucket(int burst, int perSecond) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>
    /// Every /v1 and /mcp call needs a key: /v1/admin the admin key, everything else a tenant key. The verified
    /// tenant is what every query is keyed by, so one tenant never reaches another's rows.
    /// </summary>
    public static IApplicationBuilder UseTenantAuthentication(this IApplicationBuilder app)
    {
        app.Use(async (http, next) =>
        {
            // The MCP endpoint is the same API by another protocol: the same tenant keys, checked the same way.
            if (!http.Request.Path.StartsWithSegments("/v1") && !http.Request.Path.StartsWithSegments("/mcp"))
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
            // An address that keeps presenting wrong keys is refused before its next key is even looked up.
            var throttle = http.RequestServices.GetRequiredService<FailedAuthThrottle>();
            var address = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            if (throttle.IsBlocked(address, out var retryAfter))
            {
                http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteProblem(http, StatusCodes.Status429TooManyRequests, "Too many failed authentications",
                    "This client address presented too many wrong API keys; retry after the number of seconds in Retry-After.");
                return;
            }
            var keys = http.RequestServices.GetRequiredService<ApiKeys>();
            if (http.Request.Path.StartsWithSegments("/v1/admin"))
            {
                if (!keys.IsAdmin(presented))
                {
                    throttle.Failed(address);
                    await Unauthorized(http, "The admin API needs the admin key (Auth:AdminKey).");
                    return;
                }
                http.Items[AdminItem] = true;
            }
            else
            {
                var caller = await keys.VerifyAsync(presented, http.RequestAborted);
                if (caller is null)
                {
                    throttle.Failed(address);
                    await Unauthorized(http, "The API key is unknown or revoked.");
                    return;
                }
                http.Items[CallerItem] = caller;
            }
            await next(http);
        });
        return app.UseRateLimiter();
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
