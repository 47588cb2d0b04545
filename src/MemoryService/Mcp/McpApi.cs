using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MemoryService.Hosting;
using ModelContextProtocol.Protocol;

namespace MemoryService.Mcp;

/// <summary>
/// The Model Context Protocol server at /mcp (Streamable HTTP, stateless, so any replica answers any request).
/// Authentication is the /v1 middleware's: a tenant key as Bearer; X-User-Id names the user a session works for.
/// The tools in <see cref="MemoryTools"/> call the REST handlers' own implementations.
/// </summary>
public static class McpApi
{
    public const string Path = "/mcp";

    /// <summary>The REST API's JSON conventions (snake_case, lowercase enums, UTC times), for tool arguments and results.</summary>
    internal static readonly JsonSerializerOptions Json = CreateJson();

    public static IHostApplicationBuilder AddMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddMcpServer(o =>
            {
                o.ServerInfo = new Implementation { Name = "memoryservice", Title = "MemoryService", Version = "1.0.0" };
                o.ServerInstructions = "Long-term memory of one user (named by the client's X-User-Id header). Call get_context or recall " +
                    "before answering, remember or learn when the user tells you something worth keeping.";
            })
            .WithHttpTransport(o => o.Stateless = true)
            .WithTools([typeof(MemoryTools)], Json)
            .WithRequestFilters(f => f.AddCallToolFilter(next => async (context, ct) =>
                // The same text check the REST edge runs on bodies: a NUL or a lone surrogate never reaches a handler.
                CheckArguments(context.Params?.Arguments) is { } bad
                    ? ToolResults.Problem(InputGuard.Problem(bad.Field, bad.Message), context.Services!)
                    : await next(context, ct)));
        return builder;
    }

    public static IEndpointRouteBuilder MapMcpServer(this IEndpointRouteBuilder app)
    {
        app.MapMcp(Path).WithTags("MCP").ExcludeFromDescription();
        return app;
    }

    private static (string Field, string Message)? CheckArguments(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null) return null;
        foreach (var (name, value) in arguments)
        {
            if (InputGuard.CheckText(name, name) is { } badName) return badName;
            if (InputGuard.CheckJson(JsonSerializer.SerializeToUtf8Bytes(value)) is { } bad)
                return (bad.Field == "body" ? name : $"{name}.{bad.Field}".Replace(".[", "[", StringComparison.Ordinal), bad.Message);
        }
        return null;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        ApiConventions.Configure(o);
        o.MakeReadOnly();
        return o;
    }
}
