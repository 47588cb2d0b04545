using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;

namespace MemoryService.Hosting;

/// <summary>
/// The one edge check for text every endpoint receives, before any handler or the database sees it:
/// a NUL character (PostgreSQL cannot store it in text or jsonb), an unpaired UTF-16 surrogate (not
/// encodable as UTF-8) or a duplicate JSON member name (ambiguous, and fatal to merge patches) is a 400
/// naming the field, whether it is in the JSON body, the query string, the path or a header.
/// Bodies that are not JSON are left for the endpoint to reject as it does today.
/// </summary>
public static class InputGuard
{
    public static IApplicationBuilder UseInputGuard(this IApplicationBuilder app)
    {
        var max = ApiConventions.MaxRequestBodyBytes(app.ApplicationServices.GetRequiredService<IConfiguration>());
        return app.Use(async (http, next) =>
        {
            var error = CheckText("path", http.Request.Path.Value)
                ?? CheckQuery(http.Request.Query)
                ?? CheckHeaders(http.Request.Headers);
            if (error is null && http.Request.Path.StartsWithSegments("/v1") && (http.Request.ContentLength > 0 || http.Request.ContentLength is null && http.Request.Headers.TransferEncoding.Count > 0))
            {
                var body = await ReadBodyAsync(http.Request, max, http.RequestAborted);
                http.Request.Body = new MemoryStream(body, writable: false);
                error = CheckJson(body);
            }
            if (error is { } e)
            {
                await WriteAsync(http, e.Field, e.Message);
                return;
            }
            await next(http);
        });
    }

    /// <summary>The first problem in <paramref name="value"/>, or null.</summary>
    public static (string Field, string Message)? CheckText(string field, string? value)
    {
        if (value is null) return null;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0') return (field, "Contains a NUL character (U+0000), which cannot be stored.");
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) return (field, "Contains an unpaired UTF-16 surrogate, which is not valid Unicode text.");
        }
        return null;
    }

    private static (string, string)? CheckQuery(IQueryCollection query)
    {
        foreach (var (name, values) in query)
        {
            if (CheckText(name, name) is { } bad) return bad;
            foreach (var v in values)
                if (CheckText(name, v) is { } badValue) return badValue;
        }
        return null;
    }

    private static (string, string)? CheckHeaders(IHeaderDictionary headers)
    {
        foreach (var (name, values) in headers)
            foreach (var v in values)
                if (v is not null && v.Any(c => c is < ' ' and not '\t' || c > '~'))
                    return (name, "Header values must be printable ASCII.");
        return null;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, long max, CancellationToken ct)
    {
        using var buffer = request.ContentLength is { } length && length <= max ? new MemoryStream((int)length) : new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max)
                throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>Walks every string and member name of a JSON body; a body that is not JSON is not this check's business.</summary>
    public static (string Field, string Message)? CheckJson(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Advance(frames);
                        frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        var name = ReadString(ref reader, out var badName);
                        var top = frames[^1];
                        top.Property = name ?? "?";
                        if (badName is not null) return (PathOf(frames), badName);
                        if (!(top.Names ??= new HashSet<string>(StringComparer.Ordinal)).Add(name!))
                            return (PathOf(frames), "This member appears more than once in the object.");
                        break;
                    case JsonTokenType.String:
                        Advance(frames);
                        ReadString(ref reader, out var bad);
                        if (bad is not null) return (frames.Count == 0 ? "body" : PathOf(frames), bad);
                        break;
                    default:
                        Advance(frames);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: the endpoint's own reader explains it.
        }
        return null;
    }

    private static void Advance(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray) frames[^1].Index++;
    }

    private static string? ReadString(ref Utf8JsonReader reader, out string? problem)
    {
        problem = null;
        string value;
        try
        {
            value = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            problem = "Contains an unpaired UTF-16 surrogate or invalid UTF-8, which is not valid Unicode text.";
            return null;
        }
        problem = CheckText("", value)?.Message;
        return value;
    }

    private static string PathOf(List<Frame> frames)
    {
        var path = new StringBuilder();
        foreach (var f in frames)
        {
            if (f.IsArray) path.Append('[').Append(Math.Max(0, f.Index)).Append(']');
            else if (f.Property is not null) path.Append(path.Length > 0 ? "." : "").Append(f.Property);
        }
        return path.Length == 0 ? "body" : path.ToString();
    }

    private static async Task WriteAsync(HttpContext http, string field, string message)
    {
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = Problem(field, message),
        });
    }

    /// <summary>The 400 for text this guard refuses (also a tool error over MCP).</summary>
    public static ProblemDetails Problem(string field, string message) => new HttpValidationProblemDetails(Problems.Field(field, message))
    {
        Status = StatusCodes.Status400BadRequest,
        Title = "Invalid text in request",
        Detail = $"'{field}': {message}",
    };

    private sealed class Frame(bool isArray)
    {
        public bool IsArray { get; } = isArray;
        public int Index { get; set; } = -1;
        public string? Property { get; set; }
        public HashSet<string>? Names { get; set; }
    }
}
