using System.Net.Http.Headers;
using System.Text.Json;

namespace MemoryService.Client;

/// <summary>
/// The hand-written half of the generated client: bearer authentication and problem details as
/// <see cref="MemoryServiceProblemException"/>. Everything else is generated from sdk/openapi.json.
/// </summary>
public partial class MemoryServiceClient
{
    /// <summary>A client that sends <paramref name="apiKey"/> as its bearer token on every request.</summary>
    /// <param name="httpClient">Its BaseAddress is the service's root (for example http://127.0.0.1:8080/).</param>
    /// <param name="apiKey">A tenant API key, or the admin key for the admin operations.</param>
    public MemoryServiceClient(HttpClient httpClient, string apiKey) : this(httpClient)
    {
        ApiKey = apiKey;
    }

    /// <summary>A client over a new <see cref="HttpClient"/> for <paramref name="baseAddress"/>.</summary>
    public static MemoryServiceClient Create(Uri baseAddress, string apiKey) =>
        new(new HttpClient { BaseAddress = baseAddress }, apiKey);

    /// <summary>The bearer token sent with each request; when null the HttpClient's own headers apply.</summary>
    public string? ApiKey { get; set; }

    // Unset properties are left out rather than sent as null: a JSON merge patch (UpdateMemory) then changes only
    // what was set, and create requests take the service's defaults.
    static partial void UpdateJsonSerializerSettings(JsonSerializerOptions settings) =>
        settings.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull;

    private Task PrepareRequestAsync(HttpClient client, HttpRequestMessage request, System.Text.StringBuilder urlBuilder, CancellationToken cancellationToken)
    {
        if (ApiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return Task.CompletedTask;
    }

    private static Task PrepareRequestAsync(HttpClient client, HttpRequestMessage request, string url, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    // Runs before the generated status handling, so every problem+json answer (documented or not) becomes one
    // typed exception rather than the generated ApiException<ProblemDetails>.
    private static async Task ProcessResponseAsync(HttpClient client, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode || response.StatusCode == System.Net.HttpStatusCode.NotModified) return;
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json") return;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        throw MemoryServiceProblemException.From((int)response.StatusCode, text, Headers(response));
    }

    private static Dictionary<string, IEnumerable<string>> Headers(HttpResponseMessage response)
    {
        var headers = response.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var h in response.Content.Headers) headers[h.Key] = h.Value;
        return headers;
    }
}

/// <summary>Reads the headers of a wrapped response.</summary>
public static class MemoryServiceResponseExtensions
{
    /// <summary>The ETag header (the resource's version, for If-Match), or null.</summary>
    public static string? ETag(this MemoryServiceResponse response) =>
        response.Headers.FirstOrDefault(h => string.Equals(h.Key, "ETag", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
}

/// <summary>
/// An RFC 9457 problem details answer from the service (400, 401, 404, 409, 412, 413, 422, 429, 503...).
/// </summary>
public sealed class MemoryServiceProblemException : MemoryServiceApiException
{
    private MemoryServiceProblemException(int status, string? title, string? detail, string? type, string? traceId,
        IReadOnlyDictionary<string, string[]> errors, string response, IReadOnlyDictionary<string, IEnumerable<string>> headers)
        : base($"{status} {title}{(detail is null ? "" : ": " + detail)}", status, response, headers, null)
    {
        Status = status;
        Title = title;
        Detail = detail;
        Type = type;
        TraceId = traceId;
        Errors = errors;
    }

    /// <summary>The HTTP status code.</summary>
    public int Status { get; }

    /// <summary>A short summary of the problem type.</summary>
    public string? Title { get; }

    /// <summary>What went wrong with this request.</summary>
    public string? Detail { get; }

    /// <summary>The problem type URI.</summary>
    public string? Type { get; }

    /// <summary>The service's trace id for this request: quote it when reporting a problem.</summary>
    public string? TraceId { get; }

    /// <summary>Field errors of a validation problem (field name to messages); empty otherwise.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>Seconds to wait before retrying (429, 503), when the service said so.</summary>
    public int? RetryAfterSeconds =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, "Retry-After", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault() is { } v
        && int.TryParse(v, out var s) ? s : null;

    internal static MemoryServiceProblemException From(int status, string text, IReadOnlyDictionary<string, IEnumerable<string>> headers)
    {
        string? title = null, detail = null, type = null, traceId = null;
        var errors = new Dictionary<string, string[]>();
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                title = String(root, "title");
                detail = String(root, "detail");
                type = String(root, "type");
                traceId = String(root, "trace_id");
                if (root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number) status = s.GetInt32();
                if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                    foreach (var field in e.EnumerateObject())
                        errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                            ? field.Value.EnumerateArray().Select(m => m.ToString()).ToArray()
                            : [field.Value.ToString()];
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: keep the status and the raw text in Response.
        }
        return new MemoryServiceProblemException(status, title, detail, type, traceId, errors, text, headers);
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>Writes and reads enums as the API's snake_case strings (System.Text.Json ignores [EnumMember]).</summary>
public sealed class SnakeCaseEnumConverter<TEnum>() : System.Text.Json.Serialization.JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where TEnum : struct, Enum;
