using System.Text.Json;
using System.Text.Json.Serialization;

namespace MemoryService.Learning;

/// <summary>
/// The user's wall clock for relative dates: "tomorrow" said at 21:00 in UTC-8 is the next day there, not two days
/// after the UTC date. IANA ids come from the system's tz database (/usr/share/zoneinfo on Linux).
/// </summary>
public static class TimeZones
{
    public const int MaxIdLength = 64;

    /// <summary>The zone for an IANA id ("Europe/Rome", "America/Los_Angeles", "UTC"), or null with why not.</summary>
    public static TimeZoneInfo? Find(string id, out string? error)
    {
        error = null;
        // Letters, digits and "_+-" in up to three "/"-separated parts: an id, never a path into the file system.
        var parts = id.Split('/');
        if (id.Length is 0 or > MaxIdLength || parts.Length > 3
            || parts.Any(p => p.Length == 0 || p.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '+' or '-'))))
        {
            error = "An IANA time zone id such as Europe/Rome or America/Los_Angeles.";
            return null;
        }
        if (TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone)) return zone;
        error = $"Unknown time zone '{id}'; use an IANA id such as Europe/Rome or America/Los_Angeles.";
        return null;
    }

    /// <summary>The instant as the wall clock read it in <paramref name="zone"/>; without a zone, with the offset it came with.</summary>
    public static DateTimeOffset LocalTime(DateTimeOffset at, string? zone) =>
        zone is null || Find(zone, out _) is not { } tz ? at : TimeZoneInfo.ConvertTime(at, tz);
}

/// <summary>
/// Reads and writes a timestamp with the offset it was given (the API otherwise normalises to UTC): the offset of
/// observed_at says which day "tomorrow" is, and a learned event_date is a local midnight.
/// </summary>
public sealed class OffsetKeepingConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
