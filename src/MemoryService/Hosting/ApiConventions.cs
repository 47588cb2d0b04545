using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Scalar.AspNetCore;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace MemoryService.Hosting;

/// <summary>JSON and OpenAPI conventions every endpoint follows.</summary>
public static class ApiConventions
{
    /// <summary>snake_case names, lowercase enum strings, UTC "Z" timestamps, unknown fields rejected.</summary>
    public static void Configure(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        o.DictionaryKeyPolicy = null;
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        o.Converters.Add(new UtcDateTimeOffsetConverter());
        // A misspelt field silently ignored is a bug the caller never sees: reject it.
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
    }

    /// <summary>Api:MaxRequestBodyBytes, default 16 MiB: room for a 1,000-item batch of 4 KB memories.</summary>
    public static long MaxRequestBodyBytes(IConfiguration configuration) =>
        configuration.GetValue<long?>("Api:MaxRequestBodyBytes") ?? 16 * 1024 * 1024;

    public static IHostApplicationBuilder AddApiConventions(this IHostApplicationBuilder builder)
    {
        var maxBody = MaxRequestBodyBytes(builder.Configuration);
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = maxBody);
        builder.Services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "MemoryService API",
                Version = "v1",
                Description = "Per-user long-term memory for AI assistants: store, search, and build system-prompt context.",
            });
            o.SupportNonNullableReferenceTypes();
            OpenApiContract.Configure(o);
            o.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A tenant API key (or the admin key for /v1/admin).",
            });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("bearer", doc)] = [],
            });
        });
        // Swashbuckle reads MVC's JSON options by default; make it describe what minimal APIs actually send.
        builder.Services.AddTransient<ISerializerDataContractResolver>(sp => new JsonSerializerDataContractResolver(
            sp.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions));
        return builder;
    }

    /// <summary>413 before a byte of an oversized body is read, whatever server hosts the app.</summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app)
    {
        var max = MaxRequestBodyBytes(app.ApplicationServices.GetRequiredService<IConfiguration>());
        return app.Use(async (http, next) =>
        {
            if (http.Request.ContentLength > max)
                throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
            if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
                feature.MaxRequestBodySize = max;
            await next(http);
        });
    }

    public static WebApplication MapApiDocs(this WebApplication app)
    {
        app.UseSwagger(o => o.RouteTemplate = "openapi/{documentName}.json");
        app.UseSwaggerUI(o =>
        {
            o.SwaggerEndpoint("/openapi/v1.json", "MemoryService v1");
            o.RoutePrefix = "swagger";
        });
        // The same document as a Scalar reference at /scalar; its script is served from the package, and the default
        // fonts are off because they come from a CDN.
        app.MapScalarApiReference("/scalar", o => o.WithOpenApiRoutePattern("/openapi/{documentName}.json").AddDocument("v1", "MemoryService v1")
            .DisableDefaultFonts());
        return app;
    }

    private sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset().ToUniversalTime();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime);
    }
}
