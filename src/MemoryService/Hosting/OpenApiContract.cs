using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace MemoryService.Hosting;

/// <summary>
/// What makes the OpenAPI document exact enough to generate clients from: required and nullable fields as the C#
/// records declare them, and the HTTP headers the API reads and writes (If-Match, Idempotency-Key, ETag, Retry-After).
/// </summary>
public static class OpenApiContract
{
    /// <summary>The problem+json responses every route of the group can give, in one call.</summary>
    public static RouteGroupBuilder ProducesProblems(this RouteGroupBuilder group, params int[] statuses)
    {
        foreach (var status in statuses) group.ProducesProblem(status);
        return group;
    }

    /// <summary>The problem+json responses the route can give, in one call.</summary>
    public static RouteHandlerBuilder ProducesProblems(this RouteHandlerBuilder route, params int[] statuses)
    {
        foreach (var status in statuses) route.ProducesProblem(status);
        return route;
    }

    /// <summary>The route reads an optional If-Match header (strong comparison of the memory's ETag).</summary>
    public static RouteHandlerBuilder DocumentsIfMatch(this RouteHandlerBuilder route) => route.WithMetadata(Header.IfMatch);

    /// <summary>The route honours an Idempotency-Key header: a retry with the same key and body replays the first response.</summary>
    public static RouteHandlerBuilder DocumentsIdempotencyKey(this RouteHandlerBuilder route) => route.WithMetadata(Header.IdempotencyKey);

    /// <summary>The route's success response carries the memory's version in an ETag header.</summary>
    public static RouteHandlerBuilder DocumentsETag(this RouteHandlerBuilder route) => route.WithMetadata(Header.ETag);

    public static void Configure(SwaggerGenOptions o)
    {
        o.SchemaFilter<RequiredAndNullableFilter>();
        o.OperationFilter<HeadersFilter>();
    }

    private sealed record Header(string Name, string Description)
    {
        public static readonly Header IfMatch = new("If-Match",
            "Only change it if this is still its ETag (strong comparison; \"*\" matches any version). A stale one is a 412.");
        public static readonly Header IdempotencyKey = new("Idempotency-Key",
            "Up to 255 characters. A retry with the same key and body returns the first response and writes nothing.");
        public static readonly Header ETag = new("ETag", "The memory's version, for If-Match.");
    }

    /// <summary>
    /// A property the record declares non-nullable is required and not nullable, unless it is a constructor parameter
    /// with a default (an optional request field); a nullable one is marked nullable.
    /// </summary>
    private sealed class RequiredAndNullableFilter : ISchemaFilter
    {
        private readonly NullabilityInfoContext _nullability = new();

        public void Apply(IOpenApiSchema model, SchemaFilterContext context)
        {
            if (model is not OpenApiSchema schema || schema.Properties is not { Count: > 0 } properties) return;
            var type = context.Type;
            if (type.IsPrimitive || type == typeof(string) || type.IsEnum) return;
            var optional = type.GetConstructors().SelectMany(c => c.GetParameters())
                .Where(p => p.HasDefaultValue).Select(p => p.Name!).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
                if (!properties.TryGetValue(name, out var propertySchema)) continue;
                var nullable = Nullable.GetUnderlyingType(property.PropertyType) is not null
                    || (!property.PropertyType.IsValueType && _nullability.Create(property).ReadState != NullabilityState.NotNull);
                if (propertySchema is OpenApiSchema inline && inline.Type is { } t)
                    inline.Type = nullable ? t | JsonSchemaType.Null : t & ~JsonSchemaType.Null;
                if (!nullable && !optional.Contains(property.Name))
                {
                    schema.Required ??= new SortedSet<string>(StringComparer.Ordinal);
                    schema.Required.Add(name);
                }
            }
        }
    }

    /// <summary>Request headers from the route's metadata; Retry-After on every 429 and 503.</summary>
    private sealed class HeadersFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<Header>().ToList();
            foreach (var header in metadata.Where(h => h != Header.ETag))
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = header.Name,
                    In = ParameterLocation.Header,
                    Required = false,
                    Description = header.Description,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
            if (operation.Responses is null) return;
            foreach (var (status, response) in operation.Responses)
            {
                if (response is not OpenApiResponse r) continue;
                if (metadata.Contains(Header.ETag) && status.StartsWith('2') && status != "204")
                    AddHeader(r, Header.ETag.Name, Header.ETag.Description);
                if (status is "429" or "503")
                    AddHeader(r, "Retry-After", "Seconds to wait before retrying.", JsonSchemaType.Integer);
            }
        }

        private static void AddHeader(OpenApiResponse response, string name, string description, JsonSchemaType type = JsonSchemaType.String)
        {
            response.Headers ??= new Dictionary<string, IOpenApiHeader>();
            response.Headers[name] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = type } };
        }
    }
}
