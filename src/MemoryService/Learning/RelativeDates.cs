using System.Globalization;
using System.Text.RegularExpressions;

namespace MemoryService.Learning;

internal enum DatePrecision { Day, Month, Year }

/// <summary>A date expression found in a sentence, resolved against the time of the conversation.</summary>
internal sealed record ResolvedDate(DateOnly Date, DatePrecision Precision, string Text, int Index, int Length)
{
    public string Iso => Precision switch
    {
        DatePrecision.Day => Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DatePrecision.Month => Date.ToString("yyyy-MM", CultureInfo.InvariantCulture),
        _ => Date.ToString("yyyy", CultureInfo.InvariantCulture),
    };

    /// <summary>"on 2026-12-04", "in 2026-12" or "in 2025", ready to append to a content sentence.</summary>
    public string Phrase => Precision == DatePrecision.Day ? $"on {Iso}" : $"in {Iso}";
}

/// <summary>
/// Finds the first English date expression in a sentence. Conventions: a bare or "next"/"this" weekday is the
/// first such day strictly after today ("next Friday" said on a Friday is a week later); "next weekend" is the
/// Saturday of next week; a month and day without a year is the next occurrence on or after today.
/// </summary>
internal static partial class RelativeDates
{
    private const string Months =
        "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";
    private const string Count = "a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|\\d{1,3}";
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    private delegate ResolvedDate? Resolver(Match match, DateOnly today);

    // Most specific first: an absolute date beats the "next" inside "next to March 3".
    private static readonly (Regex Pattern, Resolver Resolve)[] Patterns =
    [
        (Iso(), (m, _) => Day(m, new DateOnly(Int(m, "y"), Int(m, "m"), Int(m, "d")))),
        (MonthDay(), (m, today) => Absolute(m, today)),
        (DayMonth(), (m, today) => Absolute(m, today)),
        (NamedDay(), (m, today) => Day(m, today.AddDays(NamedDayOffset(m.Groups["w"].Value)))),
        (Weekday(), (m, today) => Day(m, WeekdayFrom(today, m.Groups["mod"].Value, ParseWeekday(m.Groups["wd"].Value)))),
        (Weekend(), (m, today) => Day(m, WeekendFrom(today, m.Groups["mod"].Value))),
        (Period(), (m, today) => PeriodFrom(m, today)),
        (InCount(), (m, today) => Shift(m, today, +CountOf(m.Groups["n"].Value))),
        (Ago(), (m, today) => Shift(m, today, -CountOf(m.Groups["n"].Value))),
        (InMonth(), (m, today) => MonthFrom(m, today)),
        (InYear(), (m, _) => new ResolvedDate(new DateOnly(Int(m, "y"), 1, 1), DatePrecision.Year, m.Value, m.Index, m.Length)),
    ];

    public static ResolvedDate? Find(string text, DateOnly today)
    {
        foreach (var (pattern, resolve) in Patterns)
        {
            var match = pattern.Match(text);
            if (!match.Success)
                continue;
            try
            {
                return resolve(match, today);
            }
            catch (ArgumentOutOfRangeException)
            {
                return null; // "February 31": there is a date expression, but no such day
            }
        }
        return null;
    }

    private static ResolvedDate Day(Match m, DateOnly date) => new(date, DatePrecision.Day, m.Value, m.Index, m.Length);

    private static ResolvedDate Absolute(Match m, DateOnly today)
    {
        var month = ParseMonth(m.Groups["mon"].Value);
        var day = Int(m, "d");
        if (m.Groups["y"].Success)
            return Day(m, new DateOnly(Int(m, "y"), month, day));
        var date = new DateOnly(today.Year, month, day);
        return Day(m, date < today ? date.AddYears(1) : date);
    }

    private static int NamedDayOffset(string word) => word.ToLowerInvariant() switch
    {
        var w when w.Contains("after") => 2,
        "tomorrow" => 1,
        "yesterday" => -1,
        _ => 0, // today, tonight, this morning
    };

    private static DateOnly WeekdayFrom(DateOnly today, string modifier, DayOfWeek day)
    {
        var mod = modifier.ToLowerInvariant();
        if (mod == "last")
        {
            var back = ((int)today.DayOfWeek - (int)day + 7) % 7;
            return today.AddDays(back == 0 ? -7 : -back);
        }
        var ahead = ((int)day - (int)today.DayOfWeek + 7) % 7;
        if (ahead == 0 && mod != "this")
            ahead = 7;
        return today.AddDays(ahead);
    }

    private static DateOnly WeekendFrom(DateOnly today, string modifier)
    {
        var mod = modifier.ToLowerInvariant();
        var saturday = today.AddDays(((int)DayOfWeek.Saturday - (int)today.DayOfWeek + 7) % 7);
        if (today.DayOfWeek == DayOfWeek.Sunday)
            saturday = today.AddDays(-1);
        return mod switch
        {
            "next" => MondayOf(today).AddDays(7 + 5),
            "last" => MondayOf(today).AddDays(-7 + 5),
            _ => saturday,
        };
    }

    private static ResolvedDate PeriodFrom(Match m, DateOnly today)
    {
        var step = m.Groups["mod"].Value.ToLowerInvariant() switch { "next" => 1, "last" => -1, _ => 0 };
        return m.Groups["unit"].Value.ToLowerInvariant() switch
        {
            "week" => Day(m, MondayOf(today).AddDays(7 * step)),
            "month" => new(new DateOnly(today.Year, today.Month, 1).AddMonths(step), DatePrecision.Month, m.Value, m.Index, m.Length),
            _ => new(new DateOnly(today.Year + step, 1, 1), DatePrecision.Year, m.Value, m.Index, m.Length),
        };
    }

    private static ResolvedDate Shift(Match m, DateOnly today, int count) => m.Groups["unit"].Value.ToLowerInvariant() switch
    {
        "day" => Day(m, today.AddDays(count)),
        "week" => Day(m, today.AddDays(7 * count)),
        "month" => Day(m, today.AddMonths(count)),
        _ => new(new DateOnly(today.Year + count, 1, 1), DatePrecision.Year, m.Value, m.Index, m.Length),
    };

    private static ResolvedDate MonthFrom(Match m, DateOnly today)
    {
        var month = ParseMonth(m.Groups["mon"].Value);
        var upcoming = m.Value.StartsWith("next", StringComparison.OrdinalIgnoreCase) ? month <= today.Month : month < today.Month;
        var year = m.Groups["y"].Success ? Int(m, "y") : upcoming ? today.Year + 1 : today.Year;
        return new(new DateOnly(year, month, 1), DatePrecision.Month, m.Value, m.Index, m.Length);
    }

    private static DateOnly MondayOf(DateOnly day) => day.AddDays(-(((int)day.DayOfWeek + 6) % 7));

    private static int Int(Match m, string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static int CountOf(string word) => Phrases.Count(word);

    private static int ParseMonth(string name) => name[..3].ToLowerInvariant() switch
    {
        "jan" => 1, "feb" => 2, "mar" => 3, "apr" => 4, "may" => 5, "jun" => 6,
        "jul" => 7, "aug" => 8, "sep" => 9, "oct" => 10, "nov" => 11, _ => 12,
    };

    private static DayOfWeek ParseWeekday(string name) => Enum.Parse<DayOfWeek>(name, ignoreCase: true);

    [GeneratedRegex(@"\b(?:on\s+)?(?<y>\d{4})-(?<m>\d{2})-(?<d>\d{2})\b", Options)]
    private static partial Regex Iso();

    [GeneratedRegex($@"\b(?:on\s+)?(?:the\s+)?(?<mon>{Months})\.?\s+(?<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?<y>\d{{4}})\b)?", Options)]
    private static partial Regex MonthDay();

    [GeneratedRegex($@"\b(?:on\s+)?(?:the\s+)?(?<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?<mon>{Months})\b(?:,?\s+(?<y>\d{{4}})\b)?", Options)]
    private static partial Regex DayMonth();

    [GeneratedRegex(@"\b(?<w>(?:the\s+)?day after tomorrow|tomorrow|tonight|today|yesterday|this (?:morning|afternoon|evening))(?:\s+(?:morning|afternoon|evening|night))?\b", Options)]
    private static partial Regex NamedDay();

    [GeneratedRegex(@"\b(?:on\s+)?(?:(?<mod>next|this|last|this coming|coming)\s+)?(?<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", Options)]
    private static partial Regex Weekday();

    [GeneratedRegex(@"\b(?:(?<mod>this|next|last)\s+weekend|on the weekend|at the weekend)\b", Options)]
    private static partial Regex Weekend();

    [GeneratedRegex(@"\b(?<mod>next|last|this)\s+(?<unit>week|month|year)\b", Options)]
    private static partial Regex Period();

    [GeneratedRegex($@"\bin\s+(?<n>{Count})\s+(?<unit>day|week|month|year)s?\b", Options)]
    private static partial Regex InCount();

    [GeneratedRegex($@"\b(?<n>{Count})\s+(?<unit>day|week|month|year)s?\s+ago\b", Options)]
    private static partial Regex Ago();

    [GeneratedRegex(@"\b(?:in|next|this|by)\s+(?<mon>january|february|march|april|may|june|july|august|september|october|november|december)\b(?:\s+(?<y>\d{4})\b)?", Options)]
    private static partial Regex InMonth();

    [GeneratedRegex(@"\bin\s+(?<y>(?:19|20)\d{2})\b", Options)]
    private static partial Regex InYear();
}
