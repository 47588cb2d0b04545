using Serilog;
using Serilog.Events;
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
        var logger = config.CreateLogger();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Serilog.ILogger>(logger);
        builder.Services.AddSerilog(logger, dispose: true);
        return builder;
    }

    /// <summary>
    /// One line per request (Serilog's request logging): method, route pattern, status and elapsed time. The
    /// pattern, never the path, so user ids never reach the log; bodies and headers (keys) are never logged.
    /// </summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app) =>
        app.UseSerilogRequestLogging(o =>
        {
            o.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>().ForContext(Serilog.Core.Constants.SourceContextPropertyName, "MemoryService.Requests");
            o.MessageTemplate = "HTTP {RequestMethod} {Route} responded {StatusCode} in {Elapsed:0.0} ms";
            // Replaces the default properties, which carry RequestPath (user ids) into JSON logs.
            o.GetMessageTemplateProperties = (context, _, elapsed, status) =>
            [
                new LogEventProperty("RequestMethod", new ScalarValue(context.Request.Method)),
                new LogEventProperty("Route", new ScalarValue((context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unmatched)")),
                new LogEventProperty("StatusCode", new ScalarValue(status)),
                new LogEventProperty("Elapsed", new ScalarValue(elapsed)),
            ];
        });
}
