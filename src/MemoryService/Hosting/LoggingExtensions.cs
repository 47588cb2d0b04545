using System.Diagnostics;
using Serilog;
using Serilog.Formatting.Json;

namespace MemoryService.Hosting;

public static class LoggingExtensions
{
    /// <summary>Serilog from the "Serilog" section; JSON lines when Logging:Format=json.</summary>
    public static IHostApplicationBuilder AddAppLogging(this IHostApplicationBuilder builder)
    {
        var config = new LoggerConfiguration()
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext();
        config = string.Equals(builder.Configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase)
            ? config.WriteTo.Console(new JsonFormatter(renderMessage: true))
            : config.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}");
        builder.Logging.ClearProviders();
        builder.Logging.AddSerilog(config.CreateLogger(), dispose: true);
        return builder;
    }

    /// <summary>
    /// One line per request: method, route template, status and elapsed time. The template, not the
    /// path, so user ids never reach the log; bodies and headers (keys) are never logged.
    /// </summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("MemoryService.Requests");
        return app.Use(async (context, next) =>
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var status = context.Response.StatusCode;
                var level = status >= 500 ? LogLevel.Error : LogLevel.Information;
                // Checked first: the params array and boxed values are allocated even when the level is off.
                if (logger.IsEnabled(level))
                {
                    var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)";
                    logger.Log(level, "HTTP {Method} {Route} responded {StatusCode} in {ElapsedMs:0.0} ms",
                        context.Request.Method, route, status, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        });
    }
}
